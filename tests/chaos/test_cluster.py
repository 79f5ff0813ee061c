"""The chaos job on a three-node JetStream cluster: lose the stream leader, then the consumer leader.

Stream, consumer and dead-letter stream have three replicas. Mid-run the node leading the stream is
SIGKILLed and, once a new leader is elected, started again; later the same happens to the consumer's
leader. Workers hold all three URLs and must ride out both elections: nothing lost, nothing run twice
outside the SIGKILL window (a worker SIGKILL is part of the schedule so that window is exercised too).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Literal

import nats
import pytest
from noetl_standin.admin import StandinAdmin

from tests.chaos.ledger import AttemptLedger
from tests.chaos.plan import ChaosPlan, standin_settings, worker_env
from tests.chaos.pool import WorkerPool
from tests.chaos.run import run_chaos
from tests.chaos.topology import prepare_topology
from tests.chaos.verdict import assert_chaos_survived, publish_report
from tests.support.nats_cluster import NatsCluster, running_nats_cluster
from tests.support.standin import running_standin

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

PLAN = ChaosPlan(commands=300, workers=3, slots=2, hold_seconds=0.3, seed=20261129)
KINDS = ("stream_leader_loss", "sigkill_worker", "poison", "consumer_leader_loss")


async def leader_of(cluster: NatsCluster, names: dict[str, str], what: Literal["stream", "consumer"]) -> str:
    nc = await nats.connect(cluster.urls)
    try:
        js = nc.jetstream()
        if what == "stream":
            info = (await js.stream_info(names["NATS_STREAM"])).cluster
        else:
            info = (await js.consumer_info(names["NATS_STREAM"], names["NATS_CONSUMER"])).cluster
        assert info is not None, f"the {what} reports no cluster information"
        assert info.leader, f"the {what} has no leader"
        return info.leader
    finally:
        await nc.close()


async def lose_leader(cluster: NatsCluster, names: dict[str, str], what: Literal["stream", "consumer"]) -> str:
    """SIGKILL the node leading ``what``, wait for a new leader, start the node again."""
    old = await leader_of(cluster, names, what)
    cluster.node(old).kill()
    killed = time.monotonic()
    deadline = killed + 30
    while True:
        try:
            new = await asyncio.wait_for(leader_of(cluster, names, what), 5)
            if new != old:
                break
        except (TimeoutError, AssertionError, nats.errors.Error):
            pass  # no leader yet: the election is still running
        if time.monotonic() > deadline:
            raise TimeoutError(f"no new {what} leader within 30 s after killing {old}")
        await asyncio.sleep(0.5)
    elected = time.monotonic()
    await asyncio.sleep(2)  # let the pool work against the new leader for a while
    await asyncio.to_thread(cluster.node(old).start)
    return f"SIGKILL {old} ({what} leader); {new} elected within {elected - killed:.1f}s; {old} restarted"


@pytest.mark.timeout(300)
async def test_a_job_survives_losing_the_stream_leader_and_then_the_consumer_leader(
    ledger: AttemptLedger, names: dict[str, str], tmp_path: Path
) -> None:
    with running_nats_cluster() as cluster:
        dlq = await prepare_topology(cluster.urls, names, replicas=3)
        # The stand-in takes one URL and learns the others from the cluster (nats-py server discovery).
        with running_standin(nats_url=cluster.urls[0], **standin_settings(PLAN, names)) as standin:
            pool = WorkerPool(tmp_path, ",".join(cluster.urls), standin.url, worker_env(PLAN, names), PLAN.workers)
            try:
                await asyncio.to_thread(pool.fill)
                async with StandinAdmin(standin.url, timeout=30) as admin:
                    report = await run_chaos(
                        PLAN, admin=admin, pool=pool, ledger=ledger, nats_url=cluster.urls, names=names,
                        dlq_stream=dlq, kinds=KINDS,
                        nats_faults={
                            "stream_leader_loss": lambda: lose_leader(cluster, names, "stream"),
                            "consumer_leader_loss": lambda: lose_leader(cluster, names, "consumer"),
                        },
                    )  # fmt: skip
            finally:
                pool.kill_all()
    publish_report(report, "chaos-cluster")
    assert_chaos_survived(report)
    assert [f.kind for f in report.faults] == list(KINDS)
