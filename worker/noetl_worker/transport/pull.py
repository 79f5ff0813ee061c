"""The pull feed: long-poll pull requests sized to the free slots, delivered straight to a callback.

Instead of the seed's "fetch one, no wait, sleep 100 ms, look the consumer up again" loop, the feed keeps
exactly as many messages requested from the server as there are free slots: it publishes
``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`` with ``{"batch": n, "expires": …}`` and a private inbox
as the reply subject. The server holds the request until messages arrive, so a published pointer reaches
an idle worker in one network hop, and an idle worker sends one small request per expiry period.

Bookkeeping follows the server's protocol: each message fills the oldest open request; a status reply
(408 request timeout, 409, 404) closes the oldest one; a request whose expiry has passed is forgotten
locally too, so a lost status reply cannot shrink the feed forever. A reconnect forgets all requests (the
server may have restarted). A 503 (no responders) means the consumer or stream is gone: the feed asks the
owner to recreate the topology, then carries on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from noetl_worker.control_plane.retry import Backoff

__all__ = ["PullFeed"]

log = logging.getLogger("noetl_worker.transport")

# A request is forgotten this long after its expiry if the server's 408 never arrived.
_LOCAL_EXPIRY_GRACE = 1.0


class PullFeed:
    """Keeps ``capacity()`` messages requested; hands each delivered message to ``on_message``."""

    def __init__(
        self,
        nc: NATS,
        *,
        stream: str,
        consumer: str,
        expiry: float,
        capacity: Callable[[], int],
        on_message: Callable[[Msg], None],
        recreate_topology: Callable[[], Awaitable[None]],
    ) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._expiry = expiry
        self._capacity = capacity
        self._on_message = on_message
        self._recreate_topology = recreate_topology
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        # Open requests, oldest first: [local expiry instant, messages still owed].
        self._requests: deque[list[float]] = deque()
        self._wakeup = asyncio.Event()
        self._topology_lost = False
        self._paused_until = 0.0
        self.requests_sent = 0

    @property
    def outstanding(self) -> int:
        return int(sum(remaining for _, remaining in self._requests))

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._receive)

    async def close(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except (NatsError, OSError) as exc:
                log.debug(f"unsubscribe failed: {exc}")

    def wake(self) -> None:
        """A slot was freed (or the connection came back): reconsider the requests now."""
        self._wakeup.set()

    def reset(self) -> None:
        """Forget every open request (after a reconnect the server may no longer hold them)."""
        self._requests.clear()
        self.wake()

    async def run(self, stopping: asyncio.Event) -> None:
        """Issue requests until ``stopping`` is set. Never raises on NATS trouble; it waits and retries."""
        backoff = Backoff(initial=0.2, cap=5.0)
        failures = 0
        while not stopping.is_set():
            self._wakeup.clear()
            self._forget_expired()
            try:
                if self._topology_lost:
                    self._topology_lost = False
                    await self._recreate_topology()
                    self._requests.clear()
                pause = self._paused_until - time.monotonic()
                if pause > 0:
                    await self._sleep(stopping, pause)
                    continue
                wanted = self._capacity() - self.outstanding
                if wanted > 0 and self._nc.is_connected:
                    await self._request(wanted)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = backoff.delay(failures)
                log.warning(f"pull request failed ({type(exc).__name__}: {exc}); retrying in {delay:.1f}s")
                await self._sleep(stopping, delay)
                continue
            await self._sleep(stopping, self._next_timeout())

    async def _request(self, batch: int) -> None:
        expires_ns = int(self._expiry * 1_000_000_000)
        body = json.dumps({"batch": batch, "expires": expires_ns}).encode()
        await self._nc.publish(self._next_subject, body, reply=self._inbox)
        self._requests.append([time.monotonic() + self._expiry + _LOCAL_EXPIRY_GRACE, float(batch)])
        self.requests_sent += 1

    def _next_timeout(self) -> float:
        if not self._requests:
            return self._expiry
        return max(0.01, min(self._expiry, self._requests[0][0] - time.monotonic()))

    def _forget_expired(self) -> None:
        now = time.monotonic()
        while self._requests and self._requests[0][0] <= now:
            self._requests.popleft()

    async def _sleep(self, stopping: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stopping.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _receive(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            self._fill_one()
            self._on_message(msg)
            return
        if status == "100":  # idle heartbeat
            return
        description = (msg.headers or {}).get("Description", "")
        if status == "503" or "deleted" in description.lower():
            log.warning(f"pull request failed ({status} {description}): the stream or consumer is gone; recreating it")
            self._topology_lost = True
            self._requests.clear()
        else:
            # 408 request expired, 409 closed by the server (max waiting, leadership change), 404 no messages.
            if self._requests:
                self._requests.popleft()
            if status == "409":
                # E.g. "Exceeded MaxWaiting": asking again at once would only be refused again.
                log.warning(f"pull request refused by the server: {description}; pausing requests for 1s")
                self._paused_until = time.monotonic() + 1.0
        self.wake()

    def _fill_one(self) -> None:
        if not self._requests:
            return
        self._requests[0][1] -= 1
        if self._requests[0][1] <= 0:
            self._requests.popleft()
