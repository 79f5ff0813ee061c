"""Re-publication of commands nobody has claimed, and of claims whose holder has gone.

Like the server: a command still PENDING ``republish_delay_seconds`` after its last publish is
published again (so consumers must expect duplicates), and a CLAIMED/RUNNING command whose claim
could now be taken over (holder unregistered, not ready or silent, per the lease rules) is published
again every ``reaper_interval_seconds`` so another worker can pick it up. The claim endpoint still
arbitrates; re-publication never decides who runs a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from noetl_standin.claims import decide_claim
from noetl_standin.publisher import Publisher
from noetl_standin.records import CommandStatus, LeasePolicy
from noetl_standin.settings import StandinSettings
from noetl_standin.store import Store

__all__ = ["Recovery"]

log = logging.getLogger(__name__)

# A worker id no real worker has: asks the lease rules "could anyone else take this over now?".
_PROBE_WORKER = "\x00standin-reaper"


class Recovery:
    """A background loop; ``start()`` it after the publisher, ``stop()`` it before."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        settings: StandinSettings,
        server_url: Callable[[], str],
        policy: LeasePolicy,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._settings = settings
        self._server_url = server_url
        self._policy = policy
        self._task: asyncio.Task[None] | None = None
        self._last_reaped: dict[int, float] = {}

    @property
    def interval(self) -> float:
        candidates = [
            value
            for value in (self._settings.republish_delay_seconds / 2, self._settings.reaper_interval_seconds / 2)
            if value > 0
        ]
        return min(1.0, max(0.02, min(candidates))) if candidates else 0.0

    def start(self) -> None:
        if self.interval and self._task is None:
            self._task = asyncio.create_task(self._run(), name="standin-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:  # the loop must survive anything a single pass hits
                log.exception("re-publication pass failed")

    async def tick(self) -> int:
        """One pass; returns how many commands were re-published."""
        settings = self._settings
        monotonic, wall = time.monotonic(), time.time()
        active = await self._store.active_commands()
        active_ids = {command.event_id for command in active}
        last = self._publisher.last_published
        for event_id in [e for e in last if e not in active_ids]:
            del last[event_id]
        for event_id in [e for e in self._last_reaped if e not in active_ids]:
            del self._last_reaped[event_id]
        count = 0
        for command in active:
            if command.status is CommandStatus.PENDING:
                published = last.get(command.event_id)
                due = settings.republish_delay_seconds > 0 and (
                    published is None or monotonic - published >= settings.republish_delay_seconds
                )
            elif settings.reaper_interval_seconds > 0:
                if monotonic - self._last_reaped.get(command.event_id, 0.0) < settings.reaper_interval_seconds:
                    continue
                holder = await self._store.get_worker(command.worker_id) if command.worker_id else None
                decision = decide_claim(
                    command,
                    _PROBE_WORKER,
                    now=wall,
                    holder=holder,
                    execution_terminal=await self._store.execution_terminal(command.execution_id),
                    policy=self._policy,
                )
                due = decision.kind == "reclaim"
                if due:
                    self._last_reaped[command.event_id] = monotonic
            else:
                due = False
            if due and await self._publisher.publish(command, self._server_url(), republish=True):
                count += 1
        return count
