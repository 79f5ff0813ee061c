"""``ControlPlane``: the stand-in's state and services, shared by every route.

One object owns the store, the publisher, the engine, the re-publication loop, the accepted-batch
queue, the counters and the fault injector. Routes reach it as ``request.app.state.plane``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from noetl_standin.counters import Counters
from noetl_standin.engine import Engine
from noetl_standin.faults import FaultInjector
from noetl_standin.memory import MemoryStore
from noetl_standin.publisher import NatsPublisher, NullPublisher, Publisher
from noetl_standin.records import BatchRecord, EventRecord, LeasePolicy
from noetl_standin.recovery import Recovery
from noetl_standin.settings import StandinSettings
from noetl_standin.store import Store

__all__ = ["ControlPlane", "StandinStartError"]

log = logging.getLogger(__name__)


class StandinStartError(RuntimeError):
    """The stand-in could not start (port taken, NATS unreachable, ...); the message says which."""


class ControlPlane:
    """Everything behind the HTTP routes. ``start()`` connects NATS and starts background loops."""

    def __init__(self, settings: StandinSettings, store: Store | None = None) -> None:
        self.settings = settings
        self.store: Store = store or MemoryStore(event_log_limit=settings.event_log_limit)
        self.counters = Counters()
        self.faults = FaultInjector()
        self.policy = LeasePolicy(
            lease_seconds=settings.claim_lease_seconds,
            heartbeat_stale_seconds=settings.worker_heartbeat_stale_seconds,
            hard_timeout_seconds=settings.healthy_worker_hard_timeout_seconds,
        )
        self.publisher: Publisher = (
            NatsPublisher(
                settings.nats_url,
                stream=settings.nats_stream,
                subject=settings.nats_subject,
                pool_routing=settings.pool_routing,
                timeout=settings.publish_timeout_seconds,
                counters=self.counters,
            )
            if settings.nats_url
            else NullPublisher(self.counters)
        )
        self.engine = Engine(
            self.store,
            self.publisher,
            self.server_url,
            externalize_above=settings.externalize_context_field_bytes,
        )
        self.recovery = Recovery(self.store, self.publisher, settings, self.server_url, self.policy)
        self.inflight = 0
        self.start_error: str | None = None
        self._bound_url: str | None = None
        self._batches: asyncio.Queue[tuple[BatchRecord, EventRecord]] = asyncio.Queue()
        self._batch_tasks: list[asyncio.Task[None]] = []

    def server_url(self) -> str:
        """The URL pointers carry: the configured one, else the address actually bound."""
        if self.settings.server_url:
            return self.settings.server_url.rstrip("/")
        if self._bound_url:
            return self._bound_url
        return f"http://{self.settings.host}:{self.settings.port}"

    def bind(self, host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        self._bound_url = f"http://{shown}:{port}"

    async def start(self) -> None:
        try:
            await self.publisher.start()
        except Exception as exc:
            self.start_error = f"cannot connect to NATS at {self.settings.nats_url}: {exc}"
            raise StandinStartError(self.start_error) from exc
        if self.settings.nats_url:
            # Without NATS there is nothing to re-publish to.
            self.recovery.start()
        self._batch_tasks = [
            asyncio.create_task(self._process_batches(), name=f"standin-batch-{n}")
            for n in range(self.settings.batch_workers)
        ]

    async def stop(self) -> None:
        await self.recovery.stop()
        for task in self._batch_tasks:
            task.cancel()
        for task in self._batch_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._batch_tasks = []
        await self.publisher.close()

    # -- accepted batches ------------------------------------------------------------------------------
    def queue_depth(self) -> int:
        return self._batches.qsize()

    def enqueue_batch(self, batch: BatchRecord, actionable: EventRecord) -> None:
        self._batches.put_nowait((batch, actionable))

    async def _process_batches(self) -> None:
        while True:
            batch, event = await self._batches.get()
            try:
                await self._process_batch(batch, event)
            except Exception as exc:  # a failed batch is reported, never fatal to the loop
                log.exception("processing batch %s failed", batch.request_id)
                await self._batch_outcome(batch, "failed", "FAILED", error=str(exc))
            finally:
                self._batches.task_done()

    async def _process_batch(self, batch: BatchRecord, event: EventRecord) -> None:
        await self._batch_outcome(batch, "processing", "PROCESSING")
        batch.commands_generated = await self.engine.on_event(event)
        await self._batch_outcome(batch, "completed", "COMPLETED")

    async def _batch_outcome(self, batch: BatchRecord, state: str, status: str, *, error: str | None = None) -> None:
        now = time.time()
        batch.state, batch.status, batch.updated_at = state, status, now
        if error is not None:
            batch.error_code, batch.message = "internal_error", error
        await self.store.save_batch(batch)
        outcome = EventRecord(
            event_id=self.store.new_id(),
            execution_id=batch.execution_id,
            event_type=f"batch.{state}",
            node_name="events.batch",
            status=status,
            created_at=now,
            payload={"request_id": batch.request_id, "commands_generated": batch.commands_generated},
            error=error,
        )
        await self.store.append_events([outcome], now=now)

    async def drain_batches(self) -> None:
        """Wait until every accepted batch has been processed (tests and admin reads use this)."""
        await self._batches.join()
