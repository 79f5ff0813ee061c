"""One NATS connection per server and credentials, shared by every pool that uses them.

Consumer checks run for every pool on every resync; a fresh connection per check (TCP, maybe TLS, the
CONNECT handshake) was most of the operator's idle CPU. Connections are opened on first use, replaced
when they drop (never reconnected in the background: a NATS outage must surface as a report, not as a
retry loop), closed when unused for ``idle_close_seconds``, and all closed on shutdown. Connecting itself
(one bounded attempt, TLS refusal of plaintext) is the shared :func:`noetl_wire.natsconnect.connect_once`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from dataclasses import dataclass

from nats.aio.client import Client
from nats.errors import ConnectionClosedError
from noetl_wire.natsconnect import NatsTarget
from noetl_wire.natsconnect import connect_once as _connect_once

__all__ = ["NatsAccess", "NatsConnections", "connect_once"]


@dataclass(frozen=True)
class NatsAccess:
    """How the operator reaches the pool's NATS (credentials come from the pool's own Secrets)."""

    url: str
    user: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None
    connect_timeout: float = 5.0
    #: Digest of the TLS material behind ``tls`` (contexts are rebuilt per check; this says "same as before").
    tls_digest: str | None = None

    def identity(self) -> tuple[str, ...]:
        """What makes two accesses share a connection: server, credentials and TLS material."""
        secret = hashlib.sha256(f"{self.user}\0{self.password}".encode()).hexdigest()
        tls = "plain" if self.tls is None else (self.tls_digest or f"context-{id(self.tls)}")
        return (self.url, secret, tls)


async def connect_once(access: NatsAccess) -> Client:
    """A new connection that fails fast (``nats: cannot connect to <host:port>: …``) and never reconnects."""
    # Connection errors reach the caller as exceptions and become ConsumerReady=False, never a retry loop.
    target = NatsTarget.parse(
        access.url,
        "noetl-operator",
        user=access.user,
        password=access.password if access.user is not None else None,
        tls=access.tls,
        connect_timeout=access.connect_timeout,
    )
    return await _connect_once(target)


@dataclass
class _Entry:
    client: Client
    last_used: float


class NatsConnections:
    """Shared connections keyed by :meth:`NatsAccess.identity`."""

    def __init__(self, *, idle_close_seconds: float = 300.0) -> None:
        self._idle_close_seconds = idle_close_seconds
        self._entries: dict[tuple[str, ...], _Entry] = {}
        # One connect per key at a time: 200 pools resuming at once must not open 200 connections.
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    def closed(self) -> bool:
        """Whether :meth:`close` was called (a call, so a check after an ``await`` is not narrowed away)."""
        return self._closed

    async def client(self, access: NatsAccess) -> Client:
        """A connected client for ``access`` (raises what :func:`connect_once` raises).

        After :meth:`close` it raises ``ConnectionClosedError``: a connection opened then would never be closed.
        """
        if self.closed():
            raise ConnectionClosedError
        key = access.identity()
        await self._close_idle(keep=key)
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._entries.get(key)
            if entry is not None and not entry.client.is_connected:
                del self._entries[key]
                await _close(entry.client)
                entry = None
            if entry is None:
                client = await connect_once(access)
                if self.closed():  # closed while this one was connecting
                    await _close(client)
                    raise ConnectionClosedError
                entry = _Entry(client, time.monotonic())
                self._entries[key] = entry
            entry.last_used = time.monotonic()
            return entry.client

    async def close(self) -> None:
        """Close every connection and refuse new ones (operator shutdown)."""
        self._closed = True
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await _close(entry.client)

    async def _close_idle(self, *, keep: tuple[str, ...]) -> None:
        # Pools that moved to another server (or were deleted) must not keep their old connection forever.
        horizon = time.monotonic() - self._idle_close_seconds
        stale = [key for key, entry in self._entries.items() if key != keep and entry.last_used < horizon]
        for key in stale:
            await _close(self._entries.pop(key).client)


async def _close(client: Client) -> None:
    if not client.is_closed:
        await client.close()
