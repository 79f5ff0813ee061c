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

    def __len__(self) -> int:
        return len(self._entries)

    async def client(self, access: NatsAccess) -> Client:
        """A connected client for ``access`` (raises what :func:`connect_once` raises)."""
        key = access.identity()
        await self._close_idle(keep=key)
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._entries.get(key)
            if entry is not None and not entry.client.is_connected:
                del self._entries[key]
                await _close(entry.client)
                entry = None
            if entry is None:
                entry = _Entry(await connect_once(access), time.monotonic())
                self._entries[key] = entry
            entry.last_used = time.monotonic()
            return entry.client

    async def close(self) -> None:
        """Close every connection (operator shutdown)."""
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
