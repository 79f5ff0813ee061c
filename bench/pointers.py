"""The publisher side of a run: the benchmark's JetStream stream, one fresh durable consumer per run, pointers.

The harness publishes the pointer messages itself (the stand-in runs HTTP-only), so it owns the publish
timestamps (``time.time()`` on this machine, the clock the stand-in stamps claims and completions with) and
can preload a run's whole backlog before any worker starts, keeping publishing out of the measured window.
Pointers are the NoETL server's five-field JSON, no headers, like production.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

__all__ = ["BenchStream", "Pointer"]

STREAM = "NOETL_BENCH"
SUBJECT_PREFIX = "bench.commands"
# Enough unacked messages for any slot count we run, as the NoETL server's own consumers allow.
MAX_ACK_PENDING = 10_000
PRELOAD_CONCURRENCY = 256


@dataclass(frozen=True, slots=True)
class Pointer:
    """One command as announced on NATS."""

    execution_id: int
    event_id: int
    command_id: int
    step: str

    def encode(self, server_url: str) -> bytes:
        return json.dumps(
            {
                "execution_id": self.execution_id,
                "event_id": self.event_id,
                "command_id": self.command_id,
                "step": self.step,
                "server_url": server_url,
            }
        ).encode()


class BenchStream:
    """A connection to the benchmark's nats-server, owning one stream with a subject per run."""

    def __init__(self, nats_url: str, server_url: str) -> None:
        self.nats_url = nats_url
        self.server_url = server_url
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None

    async def __aenter__(self) -> BenchStream:
        self._nc = await nats.connect(self.nats_url, name="bench-publisher")
        self._js = self._nc.jetstream()
        # Memory storage, as the NoETL server creates its command stream.
        await self._js.add_stream(
            StreamConfig(name=STREAM, subjects=[f"{SUBJECT_PREFIX}.>"], storage=StorageType.MEMORY)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._nc is not None:
            await self._nc.close()

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("BenchStream used outside 'async with'")
        return self._js

    async def new_consumer(self, run: str, *, ack_wait_s: float = 300.0) -> str:
        """A fresh durable pull consumer that sees only ``run``'s pointers; returns its name."""
        name = f"bench_{run}"
        await self.js.add_consumer(
            STREAM,
            ConsumerConfig(
                durable_name=name,
                filter_subject=f"{SUBJECT_PREFIX}.{run}",
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=ack_wait_s,
                max_deliver=1000,
                max_ack_pending=MAX_ACK_PENDING,
            ),
        )
        return name

    async def waiting_pulls(self, consumer: str) -> int:
        """Pull requests parked on the consumer: a worker with free slots is waiting for work."""
        info = await self.js.consumer_info(STREAM, consumer)
        return int(info.num_waiting or 0)

    async def unacked(self, consumer: str) -> tuple[int, int]:
        """``(pending, ack_pending)`` of the consumer."""
        info = await self.js.consumer_info(STREAM, consumer)
        return int(info.num_pending or 0), int(info.num_ack_pending or 0)

    async def delete_consumer(self, consumer: str) -> None:
        await self.js.delete_consumer(STREAM, consumer)

    async def preload(self, run: str, pointers: Sequence[Pointer]) -> dict[int, float]:
        """Publish every pointer as fast as JetStream acks them; returns ``event_id → publish time``."""
        subject = f"{SUBJECT_PREFIX}.{run}"
        published: dict[int, float] = {}
        gate = asyncio.Semaphore(PRELOAD_CONCURRENCY)

        async def one(pointer: Pointer) -> None:
            async with gate:
                published[pointer.event_id] = time.time()
                await self.js.publish(subject, pointer.encode(self.server_url))

        await asyncio.gather(*(one(p) for p in pointers))
        return published

    async def paced(self, run: str, pointers: Sequence[Pointer], rate: float) -> dict[int, float]:
        """Publish one pointer every ``1/rate`` seconds on a fixed schedule (no drift from slow publishes)."""
        subject = f"{SUBJECT_PREFIX}.{run}"
        published: dict[int, float] = {}
        start = time.monotonic()
        for index, pointer in enumerate(pointers):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            published[pointer.event_id] = time.time()
            await self.js.publish(subject, pointer.encode(self.server_url))
        return published
