"""The pool under a seeded fault schedule on one nats-server: nothing lost, no double run outside the window.

A real nats-server, the stand-in control plane, worker processes and a real PostgreSQL. Every command's
tool inserts one row per execution attempt, so the counts below are observed, not inferred. The short
variant (CI) fires every fault kind once; the long one (``NOETL_CHAOS_LONG=1``) runs 5,000 commands with
every fault kind several times and a 10-30 s control-plane outage.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from noetl_standin.admin import StandinAdmin

from tests.chaos.ledger import AttemptLedger
from tests.chaos.plan import ChaosPlan, standin_settings, worker_env
from tests.chaos.pool import WorkerPool
from tests.chaos.run import run_chaos
from tests.chaos.topology import prepare_topology
from tests.chaos.verdict import assert_chaos_survived, publish_report
from tests.support.nats import NatsServer
from tests.support.standin import running_standin

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SEED = 20261129

SHORT = ChaosPlan(commands=400, workers=3, slots=2, hold_seconds=0.3, seed=SEED, outage_seconds=5, burst_seconds=4)


def long_plan() -> ChaosPlan:
    outage = random.Random(SEED).uniform(10, 30)
    return ChaosPlan(
        commands=5000, workers=4, slots=4, hold_seconds=0.2, seed=SEED, rounds=3, outage_seconds=round(outage, 1),
        burst_seconds=6, duplicates=100, timeout_seconds=1800,
    )  # fmt: skip


@pytest.mark.timeout(1900)
async def test_a_job_survives_every_fault_kind_with_nothing_lost(
    private_nats_server: NatsServer,
    ledger: AttemptLedger,
    names: dict[str, str],
    tmp_path: Path,
    chaos_long: bool,
) -> None:
    plan = long_plan() if chaos_long else SHORT
    server = private_nats_server
    dlq = await prepare_topology(server.url, names)

    async def restart_nats() -> str:
        await asyncio.to_thread(server.restart, down_for=2.0)
        return "nats-server stopped, down 2 s, started on the same port and store"

    with running_standin(nats_url=server.url, **standin_settings(plan, names)) as standin:
        pool = WorkerPool(tmp_path, server.url, standin.url, worker_env(plan, names), size=plan.workers)
        try:
            await asyncio.to_thread(pool.fill)
            async with StandinAdmin(standin.url, timeout=30) as admin:
                report = await run_chaos(
                    plan, admin=admin, pool=pool, ledger=ledger, nats_url=server.url, names=names, dlq_stream=dlq,
                    nats_faults={"nats_restart": restart_nats},
                )  # fmt: skip
        finally:
            pool.kill_all()
    publish_report(report, "chaos-long" if chaos_long else "chaos-short")
    assert_chaos_survived(report)
    if plan.rounds == 1:
        assert {f.kind for f in report.faults} >= {"sigkill_worker", "nats_restart", "control_plane_down"}
