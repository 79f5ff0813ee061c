"""Applying one fault of the schedule: process kills and drains, HTTP faults, duplicates, poison, NATS faults."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping

import nats
from noetl_standin.admin import StandinAdmin

from tests.chaos.plan import ChaosPlan, NatsFault
from tests.chaos.pool import WorkerPool

__all__ = ["FaultDriver"]


class FaultDriver:
    """Holds what the faults act on; ``apply(kind)`` does one and describes it in a line."""

    def __init__(
        self,
        plan: ChaosPlan,
        admin: StandinAdmin,
        pool: WorkerPool,
        nats_url: str | list[str],
        names: Mapping[str, str],
        nats_faults: Mapping[str, NatsFault],
    ) -> None:
        self.plan = plan
        self.admin = admin
        self.pool = pool
        self.nats_url = nats_url
        self.names = names
        self.nats_faults = nats_faults
        self.rng = random.Random(plan.seed)
        self.poison_seqs: set[int] = set()
        self.execution_id = 0

    async def apply(self, kind: str) -> str:
        plan, admin = self.plan, self.admin
        if kind == "sigkill_worker":
            victim = await asyncio.to_thread(self.pool.sigkill_one, self.rng)
            return f"SIGKILL {victim}, replacement started"
        if kind == "sigterm_worker":
            victim = await asyncio.to_thread(self.pool.sigterm_one, self.rng)
            return f"SIGTERM {victim} -> exit {self.pool.drained[victim]}"
        if kind == "http_503_burst":
            await admin.inject_faults(saturation_ratio=0.6, saturation_retry_after=0.5, seed=plan.seed)
            await asyncio.sleep(plan.burst_seconds)
            await admin.clear_faults()
            return f"60% of /api answered 503 Retry-After 0.5 for {plan.burst_seconds:g}s"
        if kind == "control_plane_down":
            await admin.inject_faults(outage_seconds=plan.outage_seconds, outage_retry_after=1)
            await asyncio.sleep(plan.outage_seconds)
            await admin.clear_faults()
            return f"every /api call answered 503 for {plan.outage_seconds:g}s"
        if kind == "drop_after_commit":
            await admin.inject_faults(
                drop_ratio=0.3, drop_hold_seconds=1, paths=["/api/commands", "/api/events"], methods=["POST"],
                limit=10, seed=plan.seed,
            )  # fmt: skip
            await asyncio.sleep(plan.burst_seconds)
            await admin.clear_faults()
            return "up to 10 claim/event responses dropped after the write committed"
        if kind == "duplicates":
            view = await admin.job(self.execution_id)
            event_ids = [c.event_id for c in view.commands.values() if c.event_id is not None]
            chosen = self.rng.sample(event_ids, min(plan.duplicates, len(event_ids)))
            for event_id in chosen:
                await admin.publish(event_id)
            return f"{len(chosen)} pointers published again (pending, running and finished commands)"
        if kind == "poison":
            return await self._publish_poison()
        if kind in self.nats_faults:
            return await self.nats_faults[kind]()
        raise ValueError(f"unknown fault kind {kind!r}")

    async def _publish_poison(self) -> str:
        subject = self.names["NATS_SUBJECT"]
        url = self.admin.url
        ghost = {"execution_id": 12, "event_id": 987654321, "command_id": 5, "step": "ghost", "server_url": url}
        bodies = [
            b"\x00\xffnot json",
            b"[]",
            json.dumps({**ghost, "execution_id": "12"}).encode(),  # mistyped field
            json.dumps({"execution_id": 12, "event_id": 1, "step": "s"}).encode(),  # missing fields
            json.dumps(ghost).encode(),  # well formed, but no such command: claim 404
        ]
        nc = await nats.connect(self.nats_url)
        try:
            js = nc.jetstream()
            for body in bodies:
                ack = await js.publish(subject, body)
                self.poison_seqs.add(ack.seq)
        finally:
            await nc.close()
        return f"{len(bodies)} malformed/poison pointers published"
