"""From a delivered NATS message to an ack: decode, deduplicate, claim, run, settle.

The ack policy (documented in ``docs/worker.md``):

- ack only after the terminal events were accepted by the control plane; ``in_progress`` while running;
- ack a duplicate of a command that is running here or finished recently, without claiming it again;
- 409 ``already_terminal``: ack. 409 ``active_claim`` held by another worker on a first delivery: ack (the
  holder's own message covers a crash); on a redelivery nak with a delay instead, since that message may be
  the only copy left of a command whose holder died — it is claimed again once the lease lets go;
- overload, outage, a 5xx or our own claim held elsewhere: nak with ``Retry-After`` or jittered backoff;
- a message that can never succeed (not a pointer, 404 command, a claimed command without readable ids):
  ``term`` plus a copy with the reason on the dead-letter subject; a claim refused with another 4xx
  (401/403/400/422: our credentials or request, not the message) is naked with backoff instead.
  Nothing here raises into the feed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from nats.aio.msg import Msg
from noetl_wire.commands import ClaimedCommand
from noetl_wire.pointer import PointerDecodeError, decode_pointer

from noetl_worker.control_plane.client import ClaimStatus, ControlPlaneClient
from noetl_worker.control_plane.retry import Backoff
from noetl_worker.executor.command import salvage_identity
from noetl_worker.executor.executor import CommandExecutor
from noetl_worker.runtime.metrics import WorkerMetrics
from noetl_worker.runtime.recent import RecentCommands
from noetl_worker.transport.delivery import DeadLetters, Delivery

__all__ = ["Dispatcher"]

log = logging.getLogger("noetl_worker.runtime")

# A Retry-After longer than this is not honoured in full: the pause blocks every slot of the worker.
MAX_CLAIM_PAUSE_SECONDS = 30.0

# Redelivery delays for naks: long enough that an overloaded server is not hammered, short enough that a
# recovered one gets the work back promptly.
_NAK_BACKOFF = Backoff(initial=0.25, cap=30.0, floor=0.1)


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def redelivery_delay(num_delivered: int, retry_after: float | None = None) -> float:
    """Seconds before a naked message comes back (``num_delivered`` counts this delivery)."""
    return _NAK_BACKOFF.delay(max(0, num_delivered - 1), retry_after)


class Dispatcher:
    """Owns the per-message tasks. ``capacity()`` is the number of messages it can take right now."""

    def __init__(
        self,
        *,
        client: ControlPlaneClient,
        executor: CommandExecutor,
        metrics: WorkerMetrics,
        dead_letters: DeadLetters,
        worker_id: str,
        slots: int,
        default_server_url: str,
        keepalive_interval: float,
    ) -> None:
        self.client = client
        self.executor = executor
        self.metrics = metrics
        self.dead_letters = dead_letters
        self.worker_id = worker_id
        self.slots = slots
        self.default_server_url = default_server_url
        self.keepalive_interval = keepalive_interval
        self.recent = RecentCommands()
        self.draining = False
        self._claims_paused_until = 0.0  # monotonic instant before which no slot claims (503 Retry-After)
        self.running: dict[int, int | None] = {}  # event_id -> stream sequence of the delivery we run
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake_feed: Callable[[], None] | None = None

    def capacity(self) -> int:
        return 0 if self.draining else max(0, self.slots - len(self.tasks))

    def busy(self) -> int:
        """Slots running a command now (at most ``slots``; extra messages are given back at once)."""
        return min(self.slots, len(self.tasks))

    def accept(self, msg: Msg) -> None:
        """Called by the feed for each delivered message (synchronously: just spawns the handler)."""
        delivery = Delivery(msg, self.metrics, self.dead_letters)
        task = asyncio.get_running_loop().create_task(self._handle(delivery))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("message handler crashed", exc_info=task.exception())
        if self.wake_feed is not None:
            self.wake_feed()

    async def wait_idle(self, within: float) -> bool:
        """Wait until no message is being handled; False if ``within`` seconds passed first."""
        deadline = time.monotonic() + within
        while self.tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self.tasks), timeout=remaining)
        return True

    async def cancel_all(self) -> None:
        """Cancel whatever still runs; each handler naks its message on the way out."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=5.0)

    async def _handle(self, delivery: Delivery) -> None:
        try:
            await self._dispatch(delivery)
        except asyncio.CancelledError:
            # Drain deadline: hand the message back so another worker can take it.
            await asyncio.shield(delivery.nak("shutdown"))
            raise
        except Exception:
            log.exception("unexpected error while handling a message; naking it for redelivery")
            await delivery.nak("internal_error", redelivery_delay(delivery.num_delivered))

    async def _dispatch(self, delivery: Delivery) -> None:
        if len(self.tasks) > self.slots or self.draining:
            # More messages than slots (a request outlived a reconnect) or shutting down: give it back now.
            await delivery.nak("draining" if self.draining else "over_capacity")
            return
        try:
            pointer = decode_pointer(delivery.data)
        except PointerDecodeError as exc:
            log.error(f"poison message (seq {delivery.stream_seq}): {exc}")
            self.metrics.labelled(self.metrics.pulls, "failed").inc()
            await delivery.term("undecodable", dead_letter=str(exc))
            return
        key = pointer.event_id
        fields = {"execution_id": pointer.execution_id, "command_id": pointer.command_id, "step": pointer.step}
        if key in self.running:
            if self.running[key] != delivery.stream_seq:
                await delivery.ack("duplicate_running")
            # The same stream message redelivered while we run it: the original delivery settles it.
            return
        if key in self.recent:
            await delivery.ack("duplicate_finished")
            return
        if not await self._claim_window_open():
            await delivery.nak("draining")
            return
        server_url = pointer.server_url or self.default_server_url
        if not _is_http_url(server_url):
            self.metrics.labelled(self.metrics.pulls, "failed").inc()
            log.error(f"poison message: server_url {server_url!r} is not an http(s) URL", extra=fields)
            await delivery.term(
                "undecodable", dead_letter=f"command pointer field 'server_url' is not an http(s) URL: {server_url!r}"
            )
            return
        # Reserve the command before the claim: the server answers a same-worker re-claim with 200, so two
        # copies of one pointer (a nak redelivery and a re-publication) arriving together would otherwise
        # both be claimed and both run here.
        self.running[key] = delivery.stream_seq
        try:
            outcome = await self.client.claim(server_url, key)
        except BaseException:
            self._release(key, delivery.stream_seq)
            raise
        self.metrics.pull_duration.observe(time.perf_counter() - delivery.received_at)
        status = outcome.status
        if status is ClaimStatus.CLAIMED:
            assert outcome.command is not None
            self.metrics.labelled(self.metrics.pulls, "claimed").inc()
            await self._run(delivery, key, server_url, outcome.command)
            return
        self._release(key, delivery.stream_seq)
        if status is ClaimStatus.TERMINAL:
            self.metrics.labelled(self.metrics.pulls, "already_claimed").inc()
            self.recent.add(key)
            await delivery.ack("already_terminal")
            return
        if status is ClaimStatus.HELD:
            self.metrics.labelled(self.metrics.pulls, "already_claimed").inc()
            if outcome.holder and outcome.holder != self.worker_id and delivery.num_delivered <= 1:
                await delivery.ack("claimed_elsewhere")
                return
            delay = redelivery_delay(delivery.num_delivered, outcome.retry_after)
            log.info(f"command is claimed ({outcome.detail}); retrying in {delay:.1f}s", extra=fields)
            await delivery.nak("active_claim", delay)
            return
        if status is ClaimStatus.UNAVAILABLE:
            self.metrics.labelled(self.metrics.pulls, "retry_later").inc()
            self._pause_claims(outcome.retry_after)
            delay = redelivery_delay(delivery.num_delivered, outcome.retry_after)
            log.warning(f"claim not possible now ({outcome.detail}); redelivery in {delay:.1f}s", extra=fields)
            await delivery.nak("claim_unavailable", delay)
            return
        if status is ClaimStatus.MALFORMED:
            self.metrics.labelled(self.metrics.pulls, "claimed").inc()
            ident = salvage_identity(outcome.raw, self.worker_id)
            if ident is not None:
                log.error(f"{outcome.detail}; reporting the command as failed", extra=fields)
                result = await self.executor.report_unrunnable(ident, server_url, outcome.detail)
                if result.delivered:
                    self.recent.add(key)
                    await delivery.ack("failed")
                else:
                    await delivery.nak("outcome_undelivered", redelivery_delay(delivery.num_delivered))
                return
        self.metrics.labelled(self.metrics.pulls, "failed").inc()
        if status is ClaimStatus.REJECTED:
            # A 4xx other than 404/409 is about our request or our credentials, not about the message:
            # terminating would destroy the queue over a worker misconfiguration. Back off and say so loudly.
            delay = redelivery_delay(delivery.num_delivered)
            log.error(f"claim refused ({outcome.detail}); check this worker's configuration", extra=fields)
            await delivery.nak("claim_rejected", delay)
            return
        reason = "command_not_found" if status is ClaimStatus.NOT_FOUND else "claim_rejected"
        log.error(f"claim can never succeed ({outcome.detail}); terminating the message", extra=fields)
        await delivery.term(reason, dead_letter=f"{reason}: {outcome.detail}")

    def _pause_claims(self, retry_after: float | None) -> None:
        """A refusing control plane pauses every slot's claims, not just this message's: with a backlog,
        per-message backoff alone would hand the next queued pointer straight to another claim."""
        pause = min(MAX_CLAIM_PAUSE_SECONDS, retry_after if retry_after and retry_after > 0 else 1.0)
        self._claims_paused_until = max(self._claims_paused_until, time.monotonic() + pause)

    async def _claim_window_open(self) -> bool:
        """Wait out a claim pause; False if the worker starts draining meanwhile."""
        while (remaining := self._claims_paused_until - time.monotonic()) > 0:
            if self.draining:
                return False
            await asyncio.sleep(min(remaining, 0.25))
        return not self.draining

    def _release(self, key: int, stream_seq: int | None) -> None:
        if self.running.get(key) == stream_seq:
            del self.running[key]

    async def _run(self, delivery: Delivery, key: int, server_url: str, command: ClaimedCommand) -> None:
        self.running[key] = delivery.stream_seq
        self.metrics.concurrent_dispatches.inc()
        keepalive = _KeepAlive(delivery, self.keepalive_interval)
        try:
            outcome = await self.executor.execute(command, server_url)
        finally:
            keepalive.stop()
            self.running.pop(key, None)
            self.metrics.concurrent_dispatches.dec()
        if outcome.delivered:
            self.recent.add(key)
            await delivery.ack("failed" if outcome.failed else "completed")
        else:
            # The outcome could not be delivered before the hold deadline; redeliver so it is not lost.
            await delivery.nak("outcome_undelivered", redelivery_delay(delivery.num_delivered))


class _KeepAlive:
    """``in_progress`` every ``interval`` seconds while a command runs.

    A timer on the loop, not a task: most commands finish long before the first tick, and a timer costs one
    heap entry where a task costs a coroutine, a context, two loop iterations and a cancellation."""

    __slots__ = ("_delivery", "_handle", "_interval", "_loop", "_sending")

    def __init__(self, delivery: Delivery, interval: float) -> None:
        self._delivery = delivery
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._sending: asyncio.Task[None] | None = None
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(interval, self._tick)

    def _tick(self) -> None:
        if self._sending is None or self._sending.done():
            self._sending = self._loop.create_task(self._delivery.in_progress())
        self._handle = self._loop.call_later(self._interval, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._sending is not None and not self._sending.done():
            self._sending.cancel()
