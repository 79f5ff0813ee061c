"""One delivered NATS message and what may be done with it: ack, nak (with delay), in-progress, term.

Every disposition is counted in the metrics with a reason. Terminating a poison message also publishes a
copy with the reason to the dead-letter subject (``noetl.deadletter.<consumer>`` by default) before the
``term``. When no stream captures that subject (the operator chose to have no dead-letter stream), the copy
is still published on core NATS and the whole record is logged at ERROR. When a stream captures it but
does not confirm the write (no leader answers while a clustered stream elects one, a timeout, a full
stream), the message is not terminated: it is naked and the next delivery tries again, up to
``DEAD_LETTER_DELIVERIES`` deliveries; only then does the ERROR record stand in for the stored copy. So a
terminated command is never lost without a trace, and a passing outage of the dead-letter stream loses
nothing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError
from nats.js.errors import NotFoundError as JetStreamNotFoundError

from noetl_worker.runtime.metrics import WorkerMetrics
from noetl_worker.scrub import Scrubber

__all__ = ["DEAD_LETTER_DELIVERIES", "DeadLetters", "Delivery", "Stored"]

log = logging.getLogger("noetl_worker.transport")

DEAD_LETTER_DELIVERIES = 3
"""Deliveries of a poison message that try to store its dead-letter copy before the worker terminates it
with only the logged record. Below the shared consumer's ``max_deliver`` (10), so JetStream never drops
the message first; the nak delay between tries is ``DEAD_LETTER_RETRY_SECONDS`` times the delivery count."""

DEAD_LETTER_RETRY_SECONDS = 2.0


class Stored(Enum):
    """What became of a dead-letter copy."""

    DURABLE = "stored in the dead-letter stream"
    NO_STREAM = "no stream captures the dead-letter subject"
    UNCONFIRMED = "a stream captures the subject but did not confirm the write"


@dataclass(frozen=True, slots=True)
class DeadLetters:
    """Where and how poison messages are copied."""

    nc: NATS
    js: JetStreamContext
    subject: str
    stream: str
    consumer: str
    worker_id: str
    scrubber: Scrubber

    async def publish(self, msg: Msg, reason: str, *, last_try: bool = True) -> Stored:
        """Store the copy in the dead-letter stream. Unless it was stored, and this is the last try or no
        stream captures the subject, the copy goes out on core NATS and the record is logged at ERROR."""
        try:
            data: str = msg.data.decode()
            encoding = "utf-8"
        except UnicodeDecodeError:
            data, encoding = base64.b64encode(msg.data).decode(), "base64"
        meta = _metadata(msg)
        record = {
            "reason": reason,
            "stream": self.stream,
            "consumer": self.consumer,
            "subject": msg.subject,
            "stream_seq": meta[0],
            "num_delivered": meta[1],
            "worker_id": self.worker_id,
            "dead_lettered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "data": self.scrubber.text(data) if encoding == "utf-8" else data,
            "data_encoding": encoding,
        }
        body = json.dumps(record).encode()
        headers = {"Noetl-Dead-Letter-Reason": reason[:200].replace("\r", " ").replace("\n", " ")}
        try:
            ack = await self.js.publish(self.subject, body, headers=headers, timeout=2.0)
            log.warning(f"message seq {meta[0]} dead-lettered to {ack.stream} seq {ack.seq}: {reason}")
            return Stored.DURABLE
        except NoStreamResponseError:
            outcome, problem = await self._why_no_stream_answered()
        except (NatsError, TimeoutError, OSError) as exc:
            outcome, problem = Stored.UNCONFIRMED, f"{type(exc).__name__}: {exc}"
        if outcome is Stored.UNCONFIRMED and not last_try:
            log.warning(f"dead letter for message seq {meta[0]} not stored ({problem}); a later delivery retries")
            return outcome
        with contextlib.suppress(NatsError, OSError):
            await self.nc.publish(self.subject, body, headers=headers)
        log.error(f"dead letter not stored durably ({problem}): {json.dumps(record)}")
        return outcome

    async def _why_no_stream_answered(self) -> tuple[Stored, str]:
        """No stream answered the write: either none captures the subject (the operator chose none), or
        the one that does has no leader at the moment. A clustered stream listens on its subjects only on
        its leader, so while it elects one (a node lost, a restart) a write finds no responders at all —
        taking that for "no stream" terminated poison messages with their copy only in a log line (the
        chaos cluster run, twice). JetStream's API, answered by the meta leader, tells the two apart;
        when it cannot answer either, the write is unconfirmed and a later delivery tries again."""
        try:
            name = await self.js.find_stream_name_by_subject(self.subject)
        except JetStreamNotFoundError:
            return Stored.NO_STREAM, Stored.NO_STREAM.value
        except (NatsError, TimeoutError, OSError) as exc:
            return Stored.UNCONFIRMED, (
                f"no stream answered, and JetStream could not say whether one captures the subject: "
                f"{type(exc).__name__}: {exc}"
            )
        return Stored.UNCONFIRMED, f"stream {name} captures the subject but no leader answered"


def _metadata(msg: Msg) -> tuple[int | None, int]:
    """``(stream sequence, deliveries)`` from the JetStream reply subject, read as nats-py's ``Msg.metadata``
    reads it (``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>``, or with
    a domain and an account hash after ``ACK``: 11 tokens or more), without the dataclasses and the
    ``datetime`` it builds — 10 µs of every message. ``(None, 1)`` for a subject that is not one."""
    tokens = (msg.reply or "").split(".")
    count = len(tokens)
    if count < 9 or tokens[0] != "$JS" or tokens[1] != "ACK" or count == 10:
        return None, 1
    base = 2 if count == 9 else 4  # where <stream> is
    try:
        stream_seq, delivered = int(tokens[base + 3]), int(tokens[base + 2])
        (
            int(tokens[base + 5]),
            int(tokens[base + 6]),
        )  # nats-py refuses a subject whose timestamp or pending is not a number
    except ValueError:
        return None, 1
    return stream_seq, delivered


class Delivery:
    """A delivered message; every disposition method is safe to call once and never raises."""

    __slots__ = ("_done", "dead_letters", "metrics", "msg", "num_delivered", "received_at", "stream_seq")

    def __init__(self, msg: Msg, metrics: WorkerMetrics, dead_letters: DeadLetters) -> None:
        self.msg = msg
        self.metrics = metrics
        self.dead_letters = dead_letters
        self.stream_seq, self.num_delivered = _metadata(msg)
        self.received_at = time.perf_counter()
        self._done = False

    @property
    def data(self) -> bytes:
        return self.msg.data

    @property
    def settled(self) -> bool:
        return self._done

    async def ack(self, reason: str) -> None:
        if await self._settle("ack", self.msg.ack):
            self.metrics.labelled(self.metrics.acked, reason).inc()

    async def nak(self, reason: str, delay: float | None = None) -> None:
        if await self._settle("nak", lambda: self.msg.nak(delay=delay if delay and delay > 0 else None)):
            self.metrics.naked.labels(reason=reason).inc()

    async def term(self, reason: str, *, dead_letter: str | None = None) -> None:
        """Terminate; with ``dead_letter`` (the human-readable cause) a copy goes to the dead-letter subject."""
        if self._done:
            return
        if dead_letter is not None:
            last_try = self.num_delivered >= DEAD_LETTER_DELIVERIES
            stored = await self.dead_letters.publish(self.msg, dead_letter, last_try=last_try)
            if stored is Stored.UNCONFIRMED and not last_try:
                await self.nak("dead_letter_unconfirmed", DEAD_LETTER_RETRY_SECONDS * self.num_delivered)
                return
            self.metrics.dead_lettered.inc()
        if await self._settle("term", self.msg.term):
            self.metrics.termed.labels(reason=reason).inc()

    async def in_progress(self) -> None:
        """Reset the consumer's ack timer while the command runs (``+WPI``)."""
        if self._done:
            return
        try:
            await self.msg.in_progress()
        except (NatsError, OSError) as exc:
            log.debug(f"in_progress failed (will retry on the next tick): {exc}")

    async def _settle(self, what: str, operation: Callable[[], Awaitable[None]]) -> bool:
        if self._done:
            return False
        self._done = True
        try:
            await operation()
        except (NatsError, OSError) as exc:
            # The server redelivers after ack_wait; the claim arbitration makes that harmless.
            log.warning(f"could not {what} message (seq {self.stream_seq}): {type(exc).__name__}: {exc}")
            return False
        return True
