"""Connecting to NATS from the settings: credentials, token, creds file, NKEY, TLS, endless reconnects.

A NATS restart must not end the process: the client reconnects forever (``max_reconnect_attempts=-1``)
and the caller's callbacks learn about disconnects and reconnects (readiness, pull-request bookkeeping).
The first connection is retried with backoff too, so a worker started before NATS simply waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client as NATS

from noetl_worker.control_plane.retry import Backoff
from noetl_worker.settings import WorkerSettings

__all__ = ["PlaintextRefusedError", "connect_nats", "connect_options"]

log = logging.getLogger("noetl_worker.transport")

Callback = Callable[[], Awaitable[None]]


class PlaintextRefusedError(nats.errors.Error):
    """TLS is configured but the server offered a plaintext session."""


class _TlsRequiringClient(NATS):
    """A client that refuses a plaintext session when TLS is configured.

    nats-py upgrades to TLS only when the server's INFO says ``tls_required``: given a TLS context and a
    plaintext server (or a man-in-the-middle that strips the flag) it would send CONNECT, credentials
    included, in the clear. The check sits where INFO is processed, before CONNECT is written, so it holds
    for the first connection and for every reconnect; the refusal surfaces through ``error_cb`` and the
    normal retry loop, never as a crash.
    """

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection and not info.get("tls_required", False):
            raise PlaintextRefusedError(
                "nats: TLS is configured (NATS_TLS_CA/NATS_TLS_CERT) but the server offered plaintext; refusing "
                "to send credentials or commands unencrypted"
            )
        await super()._process_info(info, initial_connection=initial_connection)


def connect_options(settings: WorkerSettings) -> dict[str, Any]:
    """``nats.connect`` keyword arguments for ``settings`` (no callbacks)."""
    options: dict[str, Any] = {
        "servers": settings.nats_servers,
        "name": f"noetl-worker:{settings.worker_id}",
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
        "connect_timeout": 5,
        "ping_interval": 20,
        "max_outstanding_pings": 3,
    }
    user, password = settings.nats_credentials()
    if user:
        options["user"] = user
        if password is not None:
            options["password"] = password
    if settings.nats_token is not None:
        options["token"] = settings.nats_token.get_secret_value()
    if settings.nats_creds:
        options["user_credentials"] = settings.nats_creds
    if settings.nats_nkey_seed:
        options["nkeys_seed"] = settings.nats_nkey_seed
    if settings.nats_tls_ca or settings.nats_tls_cert:
        context = ssl.create_default_context(cafile=settings.nats_tls_ca)
        if settings.nats_tls_cert and settings.nats_tls_key:
            context.load_cert_chain(settings.nats_tls_cert, settings.nats_tls_key)
        options["tls"] = context
    return options


async def connect_nats(
    settings: WorkerSettings,
    *,
    stopping: asyncio.Event,
    on_disconnect: Callback,
    on_reconnect: Callback,
) -> NATS | None:
    """Connect, retrying with backoff until connected; None if ``stopping`` is set first."""
    options = connect_options(settings)

    async def error_cb(exc: Exception) -> None:
        log.warning(f"NATS connection error: {type(exc).__name__}: {exc}")

    async def closed_cb() -> None:
        log.info("NATS connection closed")

    backoff = Backoff(initial=0.5, cap=10.0)
    attempt = 0
    client_class = _TlsRequiringClient if "tls" in options else NATS
    while not stopping.is_set():
        nc = client_class()
        connecting = asyncio.ensure_future(
            nc.connect(
                # The first connection is made without nats-py's own reconnect loop: after some failures
                # (a server certificate that does not verify) that loop stalls and never returns, so this
                # function's backoff loop owns the retries; reconnects are switched on once connected.
                **{**options, "allow_reconnect": False},
                error_cb=error_cb,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                closed_cb=closed_cb,
            )
        )
        stop = asyncio.ensure_future(stopping.wait())
        # A stop request must end the wait at once, even mid-handshake.
        await asyncio.wait({connecting, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connecting
            with contextlib.suppress(Exception):
                await nc.close()
            return None
        try:
            connecting.result()
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            delay = backoff.delay(attempt)
            attempt += 1
            log.warning(
                f"cannot connect to NATS at {', '.join(settings.nats_servers)} ({type(exc).__name__}: {exc}); "
                f"retrying in {delay:.1f}s"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            continue
        # nats-py reads this option whenever the connection drops, so from here on a NATS restart is
        # handled by the client's endless reconnects.
        nc.options["allow_reconnect"] = True
        return nc
    return None
