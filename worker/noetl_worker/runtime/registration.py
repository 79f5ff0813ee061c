"""Presence in the control plane's worker registry: register before pulling, heartbeat, deregister on exit.

The claim lease rules consult this registry (``name`` = worker id): a worker that stops heartbeating has
its claims taken over after the lease, which is exactly what should happen to a dead worker — and must not
happen to a live one, so a heartbeat answered with 404 re-registers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from datetime import UTC, datetime

from noetl_wire.workers import WorkerRegistration

from noetl_worker import __version__
from noetl_worker.control_plane.client import ControlPlaneClient, ControlPlaneError
from noetl_worker.settings import WorkerSettings

__all__ = ["Registration", "build_registration"]

log = logging.getLogger("noetl_worker.runtime")


def build_registration(settings: WorkerSettings) -> WorkerRegistration:
    return WorkerRegistration(
        name=settings.worker_id,
        component_type="worker_pool",
        runtime="python",
        status="ready",
        capacity=settings.max_concurrent,
        pid=os.getpid(),
        hostname=socket.gethostname() or "unknown",
        labels={"pool_name": settings.pool_name, "nats_consumer": settings.nats_consumer},
        meta={
            "version": __version__,
            "nats_stream": settings.nats_stream,
            "started_at": datetime.now(UTC).isoformat(),
        },
    )


class Registration:
    def __init__(self, client: ControlPlaneClient, settings: WorkerSettings) -> None:
        self.client = client
        self.interval = settings.heartbeat_interval
        self.registration = build_registration(settings)
        self.registered = False

    async def register(self, stopping: asyncio.Event) -> bool:
        """Register, retrying until it succeeds (True) or ``stopping`` is set (False, at once)."""
        while not stopping.is_set():
            attempt = asyncio.ensure_future(self.client.register(self.registration, deadline=time.monotonic() + 30.0))
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({attempt, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError, ControlPlaneError):
                    await attempt
                return False
            try:
                attempt.result()
            except ControlPlaneError as exc:
                log.warning(f"registration failed: {exc}; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 2.0)
                continue
            self.registered = True
            log.info(f"registered as {self.registration.name} with {self.client.server_url}")
            return True
        return False

    async def heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                status = await self.client.heartbeat(self.registration)
            except Exception as exc:
                # Never let the heartbeat task die: without heartbeats our claims become stealable.
                log.warning(f"heartbeat failed: {type(exc).__name__}: {exc}")
                continue
            if status != "ok":
                log.info(f"heartbeat answered {status}")

    async def deregister(self) -> None:
        if not self.registered:
            return
        try:
            await self.client.deregister(self.registration.name, deadline=time.monotonic() + 3.0)
        except ControlPlaneError as exc:
            log.warning(f"deregistration failed: {exc}")
        else:
            log.info("deregistered")
        self.registered = False
