"""Connecting the worker to NATS from its settings: credentials, token, creds file, NKEY, TLS.

The rules for *how* to connect (bounded first attempts, capped exponential back-off naming the servers,
endless reconnects once connected, refusing plaintext when TLS is configured) are the shared
:mod:`noetl_wire.natsconnect`; this module only turns ``WorkerSettings`` into a target. A NATS restart never
ends the process, and the caller's callbacks learn about disconnects and reconnects (readiness, pull-request
bookkeeping).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS
from noetl_wire.natsconnect import NatsTarget, PlaintextRefusedError, connect_with_backoff

from noetl_worker.settings import WorkerSettings

__all__ = ["PlaintextRefusedError", "connect_nats", "nats_target"]

log = logging.getLogger("noetl_worker.transport")

Callback = Callable[[], Awaitable[None]]

#: Back-off between first-connection attempts: 0.5 s doubling to this cap.
FIRST_CONNECT_BACKOFF_CAP_SECONDS = 30.0


def nats_target(settings: WorkerSettings) -> NatsTarget:
    """Where and how the worker connects, from ``settings``."""
    user, password = settings.nats_credentials()
    tls = None
    if settings.nats_tls_ca or settings.nats_tls_cert:
        tls = ssl.create_default_context(cafile=settings.nats_tls_ca)
        if settings.nats_tls_cert and settings.nats_tls_key:
            tls.load_cert_chain(settings.nats_tls_cert, settings.nats_tls_key)
    return NatsTarget(
        servers=tuple(settings.nats_servers),
        name=f"noetl-worker:{settings.worker_id}",
        user=user or None,
        password=password if user else None,
        token=settings.nats_token.get_secret_value() if settings.nats_token is not None else None,
        creds=settings.nats_creds or None,
        nkey_seed=settings.nats_nkey_seed or None,
        tls=tls,
    )


async def connect_nats(
    settings: WorkerSettings,
    *,
    stopping: asyncio.Event,
    on_disconnect: Callback,
    on_reconnect: Callback,
) -> NATS | None:
    """Connect, waiting with capped back-off until NATS is there; None if ``stopping`` is set first."""

    async def error_cb(exc: Exception) -> None:
        log.warning(f"NATS connection error: {type(exc).__name__}: {exc}")

    async def closed_cb() -> None:
        log.info("NATS connection closed")

    return await connect_with_backoff(
        nats_target(settings),
        stopping=stopping,
        log=log,
        cap=FIRST_CONNECT_BACKOFF_CAP_SECONDS,
        error_cb=error_cb,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        closed_cb=closed_cb,
    )
