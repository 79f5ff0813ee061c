"""Publishing command pointers to NATS JetStream, the way the NoETL server does.

The stream (default ``NOETL_COMMANDS``) is created if missing with subjects ``[subject, subject.>]``,
memory storage and a one-hour ``max_age``; an existing stream lacking the wildcard subject is widened.
Messages are the five-field JSON pointer with no headers and no ``Nats-Msg-Id``, so duplicates from
re-publication reach consumers exactly as they do in production.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from noetl_wire.jetstream import command_stream_config, command_stream_subjects
from noetl_wire.natsconnect import NatsTarget, connect_once, keep_reconnecting
from noetl_wire.pointer import CommandPointer, encode_pointer

from noetl_standin.counters import Counters
from noetl_standin.records import CommandRecord

__all__ = ["NatsPublisher", "NullPublisher", "Publisher", "pool_for"]

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_SECONDS = 2.0
_PYTHON_POOL_KINDS = frozenset({"agent", "task_sequence"})


def pool_for(tool_kind: str, playbook_path: str) -> str:
    """The routing segment: ``system`` for ``system/`` playbooks, ``python`` for agent and task_sequence,
    else ``shared``."""
    if playbook_path.startswith("system/"):
        return "system"
    if tool_kind in _PYTHON_POOL_KINDS:
        return "python"
    return "shared"


_ERROR_LOG_INTERVAL_SECONDS = 10.0
_last_error_log = [0.0]


async def _log_nats_error(error: Exception) -> None:
    # One line, at most every few seconds, instead of nats-py's traceback per reconnect attempt (5 per second).
    now = time.monotonic()
    if now - _last_error_log[0] >= _ERROR_LOG_INTERVAL_SECONDS:
        _last_error_log[0] = now
        log.warning("NATS: %s", error or type(error).__name__)


async def _log_disconnect() -> None:
    log.warning("NATS connection lost; reconnecting")


async def _log_reconnect() -> None:
    log.warning("NATS connection re-established")


class Publisher(Protocol):
    """Announces commands; ``last_published`` lets the recovery loop find commands to announce again."""

    last_published: dict[int, float]

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, command: CommandRecord, server_url: str, *, republish: bool = False) -> bool: ...


class NullPublisher:
    """Used when no NATS URL is configured: commands are issued but only reachable via HTTP."""

    def __init__(self, counters: Counters) -> None:
        self.last_published: dict[int, float] = {}
        self._counters = counters

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, command: CommandRecord, server_url: str, *, republish: bool = False) -> bool:
        self._counters.publish["skipped_no_nats"] += 1
        return False


class NatsPublisher:
    """Publishes pointers on a JetStream stream; failures are counted and left to re-publication."""

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        subject: str,
        pool_routing: bool,
        timeout: float,
        counters: Counters,
    ) -> None:
        self.url = url
        self.stream = stream
        self.subject = subject
        self.pool_routing = pool_routing
        self.timeout = timeout
        self.last_published: dict[int, float] = {}
        self._counters = counters
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._ensure_lock = asyncio.Lock()
        self._stream_ready = False

    async def start(self) -> None:
        # One bounded attempt at startup, so a wrong URL fails fast with a clear error...
        self._nc = await connect_once(
            NatsTarget.parse(self.url, "noetl-standin", connect_timeout=2),
            error_cb=_log_nats_error,
            disconnected_cb=_log_disconnect,
            reconnected_cb=_log_reconnect,
        )
        # ...but once connected, ride out any outage (tests restart nats-server on purpose).
        keep_reconnecting(self._nc, wait=0.2)
        self._js = self._nc.jetstream(timeout=self.timeout)
        await self._ensure_stream()

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is None or nc.is_closed:
            return
        # Drain flushes pending publishes; with NATS gone it would wait out its 30 s timeout, so bound it.
        try:
            await asyncio.wait_for(nc.drain(), _CLOSE_TIMEOUT_SECONDS)
        except (TimeoutError, NatsError):
            await nc.close()

    async def _ensure_stream(self) -> None:
        assert self._js is not None
        async with self._ensure_lock:
            subjects = command_stream_subjects(self.subject)
            try:
                info = await self._js.stream_info(self.stream)
            except NotFoundError:
                await self._js.add_stream(command_stream_config(self.stream, self.subject))
                log.info("created JetStream stream %s on %s", self.stream, subjects)
            else:
                existing = list(info.config.subjects or [])
                missing = [s for s in subjects if s not in existing]
                if missing:
                    info.config.subjects = existing + missing
                    await self._js.update_stream(info.config)
                    log.info("widened JetStream stream %s with %s", self.stream, missing)
            self._stream_ready = True

    def subject_for(self, command: CommandRecord) -> str:
        if not self.pool_routing:
            return self.subject
        return f"{self.subject}.{command.pool}.{command.execution_id}"

    async def publish(self, command: CommandRecord, server_url: str, *, republish: bool = False) -> bool:
        """Publish one pointer; return False (and count why) instead of raising."""
        # Recorded before the attempt so a failed publish is retried by the recovery loop, like the server.
        self.last_published[command.event_id] = time.monotonic()
        if self._js is None:
            self._counters.publish["errors"] += 1
            return False
        pointer = CommandPointer(
            execution_id=command.execution_id,
            event_id=command.event_id,
            command_id=command.command_id,
            step=command.step,
            server_url=server_url,
        )
        try:
            if not self._stream_ready:
                await self._ensure_stream()
            await self._js.publish(self.subject_for(command), encode_pointer(pointer), timeout=self.timeout)
        except (NatsError, TimeoutError, OSError) as exc:
            # The stream is memory-backed like the server's: a nats-server restart loses it, and publishes
            # then fail with "no responders". Re-check (and recreate) it before the next attempt.
            self._stream_ready = False
            self._counters.publish["errors"] += 1
            log.warning("publish of command %s failed (will be re-published): %r", command.command_id, exc)
            return False
        self._counters.publish["republished" if republish else "published"] += 1
        return True
