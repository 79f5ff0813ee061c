"""The one way our components connect to NATS: nats-py's reconnect rules live here and nowhere else.

The worker's transport, the worker's ``nats`` tool, the operator's connection pool and the stand-in's
publisher all connect through this module. What it knows about nats-py (pinned in ``wire/pyproject.toml``
to the versions these rules are tested against, ``tests/wire/test_natsconnect.py``):

* ``max_reconnect_attempts=0`` does not mean "try once": nats-py discards a server only when the limit is
  ``> 0``, so a refused port is retried forever even with ``allow_reconnect=False``. A bounded attempt
  therefore uses a limit of 1 (each server is tried at most twice) inside an overall ``asyncio`` timeout.
* A first connection made with nats-py's endless reconnects never returns to the caller while the server is
  down: it loops inside nats-py once per ``reconnect_time_wait``, reporting errors that name no server.
  :func:`connect_with_backoff` makes bounded attempts instead, waits with capped exponential back-off between
  them, names the servers it tried, and only switches endless reconnects on once connected
  (:func:`keep_reconnecting`; nats-py reads ``Client.options`` whenever the connection drops).
* With a TLS context nats-py upgrades only when the server's INFO asks for TLS, so a plaintext server (or a
  man-in-the-middle that strips the flag) would receive CONNECT, credentials included, in the clear;
  :class:`_TlsRequiringClient` refuses that session before CONNECT is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client

__all__ = [
    "NatsTarget",
    "NatsUnreachableError",
    "PlaintextRefusedError",
    "backoff_delay",
    "connect_once",
    "connect_with_backoff",
    "keep_reconnecting",
    "server_names",
]

Callback = Callable[[], Awaitable[None]]
ErrorCallback = Callable[[Exception], Awaitable[None]]

#: Liveness pings on a long-lived connection: a silently dead peer is noticed within a minute.
PING_INTERVAL_SECONDS = 20
MAX_OUTSTANDING_PINGS = 3
#: Pause between nats-py's two tries of one server inside a bounded attempt.
_RETRY_PAUSE_SECONDS = 0.1


class NatsUnreachableError(nats.errors.Error):
    """No server of the target accepted a connection; ``str()`` is ``nats: cannot connect to <host:port>: …``."""


class PlaintextRefusedError(nats.errors.Error):
    """TLS is configured but the server offered a plaintext session."""


class _TlsRequiringClient(Client):
    """A client that refuses a plaintext session when TLS is configured (checked before CONNECT is sent)."""

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection and not info.get("tls_required", False):
            raise PlaintextRefusedError(
                "nats: TLS is configured but the server offered plaintext; refusing to send credentials or "
                "commands unencrypted"
            )
        await super()._process_info(info, initial_connection=initial_connection)


def server_names(servers: Sequence[str]) -> str:
    """``host:port`` of each server, comma-separated, never with the ``user:pass@`` a URL may carry."""
    names = []
    for server in servers:
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        host = parts.hostname or server.rpartition("@")[2]
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        try:
            port = parts.port or 4222
        except ValueError:
            names.append(server.rpartition("@")[2])
            continue
        names.append(f"{host}:{port}")
    return ", ".join(names)


@dataclass(frozen=True)
class NatsTarget:
    """Where and how to connect: the servers, a client name, and at most one way of authenticating."""

    servers: tuple[str, ...]
    name: str
    user: str | None = None
    password: str | None = None
    token: str | None = None
    #: Path to a ``.creds`` file (JWT + NKEY seed).
    creds: str | None = None
    #: Path to an NKEY seed file.
    nkey_seed: str | None = None
    tls: ssl.SSLContext | None = None
    #: Seconds one TCP/TLS/CONNECT handshake with one server may take.
    connect_timeout: float = 5.0

    @classmethod
    def parse(cls, servers: str | Sequence[str], name: str, **options: Any) -> NatsTarget:
        """A target from a comma-separated URL string or a list of URLs."""
        listed = servers.split(",") if isinstance(servers, str) else list(servers)
        return cls(tuple(s.strip() for s in listed if s.strip()), name, **options)

    @property
    def where(self) -> str:
        return server_names(self.servers)

    def options(self) -> dict[str, Any]:
        """``Client.connect`` keyword arguments, without callbacks and reconnect rules."""
        options: dict[str, Any] = {
            "servers": list(self.servers),
            "name": self.name,
            "connect_timeout": self.connect_timeout,
            "ping_interval": PING_INTERVAL_SECONDS,
            "max_outstanding_pings": MAX_OUTSTANDING_PINGS,
        }
        if self.user is not None:
            options["user"] = self.user
            options["password"] = self.password if self.password is not None else ""
        if self.token is not None:
            options["token"] = self.token
        if self.creds is not None:
            options["user_credentials"] = self.creds
        if self.nkey_seed is not None:
            options["nkeys_seed"] = self.nkey_seed
        if self.tls is not None:
            options["tls"] = self.tls
        return options


async def _silent(*_: Any) -> None:
    """nats-py logs a traceback per failed attempt without an error callback; callers report once instead."""


async def connect_once(
    target: NatsTarget,
    *,
    within: float | None = None,
    error_cb: ErrorCallback | None = None,
    disconnected_cb: Callback | None = None,
    reconnected_cb: Callback | None = None,
    closed_cb: Callback | None = None,
) -> Client:
    """One bounded attempt over the target's servers; never reconnects by itself.

    Raises :class:`NatsUnreachableError` (``nats: cannot connect to <host:port>: <why>``) within ``within``
    seconds (default: three handshakes' worth) when no server accepts: refused, silent, credentials rejected,
    plaintext offered under TLS, certificate not trusted.
    """
    limit = within if within is not None else 3 * target.connect_timeout
    options = target.options()
    options["connect_timeout"] = max(0.05, min(target.connect_timeout, limit))
    options["reconnect_time_wait"] = _RETRY_PAUSE_SECONDS  # nats-py annotates int; it sleeps this many seconds
    causes: list[Exception] = []

    async def record(exc: Exception) -> None:
        causes.append(exc)
        await (error_cb or _silent)(exc)

    client = _TlsRequiringClient() if target.tls is not None else Client()
    try:
        await asyncio.wait_for(
            client.connect(
                **options,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                error_cb=record,
                disconnected_cb=disconnected_cb or _silent,
                reconnected_cb=reconnected_cb or _silent,
                closed_cb=closed_cb or _silent,
            ),
            timeout=limit,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        with contextlib.suppress(Exception):
            await client.close()
        raise NatsUnreachableError(f"nats: cannot connect to {target.where}: {_reason(exc, causes, limit)}") from None
    return client


def _reason(exc: BaseException, causes: list[Exception], limit: float) -> str:
    # A refusal by a server that was reached (credentials, plaintext under TLS) says more than the
    # "no servers available" nats-py ends with; otherwise the last error of the last try.
    for cause in (exc, *reversed(causes)):
        if isinstance(cause, PlaintextRefusedError | nats.errors.AuthorizationError):
            return _describe(cause)
    cause = next((c for c in reversed(causes) if not isinstance(c, nats.errors.NoServersError)), exc)
    return f"timed out after {limit:g}s" if isinstance(cause, TimeoutError) else _describe(cause)


def _describe(exc: BaseException) -> str:
    text = str(exc).removeprefix("nats: ")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def keep_reconnecting(client: Client, *, wait: float = 1.0) -> None:
    """From now on ride out any outage: reconnect forever, ``wait`` seconds between tries of one server."""
    # nats-py reads these options whenever the connection drops (there is no public setter).
    client.options["allow_reconnect"] = True
    client.options["max_reconnect_attempts"] = -1
    client.options["reconnect_time_wait"] = wait


def backoff_delay(attempt: int, *, initial: float, cap: float) -> float:
    """Capped exponential back-off: ``initial`` doubled per failed attempt, never above ``cap``."""
    return float(min(cap, initial * 2.0 ** min(attempt, 32)))


async def connect_with_backoff(
    target: NatsTarget,
    *,
    stopping: asyncio.Event,
    log: logging.Logger,
    initial: float = 0.5,
    cap: float = 30.0,
    error_cb: ErrorCallback | None = None,
    disconnected_cb: Callback | None = None,
    reconnected_cb: Callback | None = None,
    closed_cb: Callback | None = None,
) -> Client | None:
    """Connect, waiting with capped exponential back-off until a server accepts; None once ``stopping`` is set.

    Every failed attempt is one WARNING naming the servers tried, the reason and the next delay. Once
    connected the client reconnects forever (:func:`keep_reconnecting`), so a NATS restart never ends the
    caller. A stop request ends the wait at once, even mid-handshake.
    """
    connected = False

    async def errors_once_connected(exc: Exception) -> None:
        # Each failed first attempt is reported once, below, not once per nats-py try.
        if connected and error_cb is not None:
            await error_cb(exc)

    attempt = 0
    while not stopping.is_set():
        connecting = asyncio.ensure_future(
            connect_once(
                target,
                error_cb=errors_once_connected,
                disconnected_cb=disconnected_cb,
                reconnected_cb=reconnected_cb,
                closed_cb=closed_cb,
            )
        )
        stop = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({connecting, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connecting
            return None
        try:
            client = connecting.result()
        except NatsUnreachableError as exc:
            delay = backoff_delay(attempt, initial=initial, cap=cap)
            attempt += 1
            log.warning(f"{exc} (attempt {attempt}); retrying in {delay:.1f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            continue
        connected = True
        keep_reconnecting(client)
        if attempt:
            log.info(f"connected to NATS at {target.where} after {attempt} failed attempt(s)")
        return client
    return None
