"""A control plane that answers 503 with ``Retry-After`` must not be stormed by a pool with a backlog.

Two workers, a queue of pending commands, and an outage: every claim is refused with ``Retry-After: 1``.
Honouring it means a slot tries again about once per second — not that it moves on to the next queued
pointer at once, which turns one refused claim per second into hundreds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from noetl_standin.admin import StandinAdmin

from tests.support.nats import NatsServer
from tests.support.standin import running_standin
from tests.worker.workerproc import start_worker

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

WORKERS, SLOTS = 2, 4
OUTAGE, RETRY_AFTER, WINDOW = 8.0, 1.0, 5.0


async def test_a_refusing_control_plane_sees_about_one_claim_per_slot_per_retry_after(
    nats_server: NatsServer, names: dict[str, str], tmp_path: Path
) -> None:
    with running_standin(
        nats_url=nats_server.url, nats_stream=names["NATS_STREAM"], nats_subject=names["NATS_SUBJECT"]
    ) as standin:
        workers = [
            start_worker(tmp_path, nats_server.url, standin.url, **names, WORKER_MAX_CONCURRENT=str(SLOTS))
            for _ in range(WORKERS)
        ]
        try:
            for worker in workers:
                await asyncio.to_thread(worker.wait_ready)
            async with StandinAdmin(standin.url) as admin:
                await admin.inject_faults(outage_seconds=OUTAGE, outage_retry_after=RETRY_AFTER)
                await admin.submit_job([{"name": f"c{i}", "kind": "noop"} for i in range(1000)])
                await admin.reset_counters()
                await asyncio.sleep(WINDOW)
                refused = (await admin.counters())["statuses"].get("503", 0)
        finally:
            for worker in workers:
                worker.kill()
    # Per slot one claim per Retry-After (plus one in flight), plus each worker's heartbeat per second.
    budget = WORKERS * SLOTS * (WINDOW / RETRY_AFTER + 1) + WORKERS * (WINDOW + 1)
    assert refused <= budget, f"{refused} requests refused in {WINDOW:g}s of outage (budget {budget:g})"
