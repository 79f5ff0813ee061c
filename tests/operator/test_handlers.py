"""The kopf handlers running in-process against the kmock emulator: create, then delete through the finalizer.

This is the same registry ``noetl-operator run`` uses, with the login pointed at the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import kopf
import pytest
from nats.js.errors import NotFoundError
from noetl_operator.handlers import FINALIZER, build_registry, release_consumer
from noetl_operator.kube import KubeClient, KubeConnection
from noetl_operator.metrics import OperatorMetrics
from noetl_operator.settings import OperatorSettings

from tests.operator.conftest import nats_connect
from tests.operator.kmockapi import POOL_RESOURCE, ApplyingEmulator, declare_cluster, exists
from tests.support.nats import NatsServer

pytestmark = [pytest.mark.integration, pytest.mark.kmock(cls=ApplyingEmulator)]

NS = "team-h"
_counter = itertools.count()


@pytest.fixture
async def operator(kmock: ApplyingEmulator) -> AsyncIterator[OperatorMetrics]:
    """kopf running the operator's registry against the emulator until the test ends; yields its metrics."""
    declare_cluster(kmock, keda=True)
    settings = OperatorSettings(standalone=True, resync_interval_seconds=1.0)
    metrics = OperatorMetrics()
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(
        kopf.operator(
            registry=build_registry(settings, KubeConnection(server=str(kmock.url)), metrics=metrics),
            clusterwide=True,
            standalone=True,
            stop_flag=stop,
            ready_flag=ready,
        )
    )
    await asyncio.wait_for(ready.wait(), timeout=10)
    yield metrics
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)


async def eventually(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_pool_lifecycle_through_kopf(kmock: ApplyingEmulator, operator: None, nats_server: NatsServer) -> None:
    stream = f"HANDLERS_{next(_counter)}"
    client = await nats_connect(nats_server.url)
    js = client.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    pool: dict[str, Any] = {
        "apiVersion": "noetl.io/v1alpha1",
        "kind": "NoetlWorkerPool",
        "metadata": {"name": "life", "namespace": NS, "uid": "uid-life", "generation": 1, "resourceVersion": "1"},
        "spec": {
            "image": {"tag": "0.1.0"},
            "nats": {"url": nats_server.url, "stream": stream, "subject": stream.lower()},
            "consumer": {"durableName": "life", "management": "managed", "preventDelete": False},
        },
    }
    key = (POOL_RESOURCE, NS, "life")
    try:
        async with kmock.post(f"/apis/noetl.io/v1alpha1/namespaces/{NS}/noetlworkerpools", json=pool) as response:
            assert response.status < 300

        def reconciled() -> bool:
            obj = kmock.objects[key]
            return not obj.deleted and bool((obj.raw.get("status") or {}).get("conditions"))

        await eventually(reconciled, "the pool's status")
        body = kmock.objects[key].raw
        assert FINALIZER in body["metadata"]["finalizers"]
        assert "kopf" not in body["status"], "kopf's bookkeeping stays in annotations"
        conditions = {item["type"]: item for item in body["status"]["conditions"]}
        assert conditions["ConsumerReady"]["status"] == "True"
        assert exists(kmock, "apps/v1/deployments", NS, "noetl-worker-life")
        await js.consumer_info(stream, "life")

        async with kmock.delete(f"/apis/noetl.io/v1alpha1/namespaces/{NS}/noetlworkerpools/life") as response:
            assert response.status < 300
        await eventually(lambda: kmock.objects[key].deleted, "the finalizer to release the pool")
        with pytest.raises(NotFoundError):
            await js.consumer_info(stream, "life")
    finally:
        await client.close()


async def test_the_resync_timer_repairs_drift_and_refreshes_the_lag(
    kmock: ApplyingEmulator, operator: OperatorMetrics, nats_server: NatsServer
) -> None:
    stream = f"HANDLERS_{next(_counter)}"
    client = await nats_connect(nats_server.url)
    js = client.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    pool: dict[str, Any] = {
        "apiVersion": "noetl.io/v1alpha1",
        "kind": "NoetlWorkerPool",
        "metadata": {"name": "drift", "namespace": NS, "uid": "uid-drift", "generation": 1, "resourceVersion": "1"},
        "spec": {
            "image": {"tag": "0.1.0"},
            "nats": {"url": nats_server.url, "stream": stream, "subject": stream.lower()},
            "consumer": {
                "durableName": "drift",
                "management": "managed",
                "filterSubject": f"{stream.lower()}.shared.>",
            },
        },
    }
    deployment = ("apps/v1/deployments", NS, "noetl-worker-drift")
    try:
        async with kmock.post(f"/apis/noetl.io/v1alpha1/namespaces/{NS}/noetlworkerpools", json=pool) as response:
            assert response.status < 300
        await eventually(lambda: exists(kmock, *deployment), "the Deployment")

        # A hand edit through the API (so watchers see it); as the API server does for a spec change, it moves
        # the generation (kmock does not by itself).
        generation = int(kmock.objects[deployment].raw["metadata"].get("generation", 1))
        edit = {
            "metadata": {"generation": generation + 1},
            "spec": {"template": {"spec": {"containers": [{"name": "worker", "image": "x:9"}]}}},
        }
        async with kmock.patch(f"/apis/apps/v1/namespaces/{NS}/deployments/noetl-worker-drift", json=edit) as response:
            assert response.status < 300
        # The durable delivers only what is published after it exists (deliver_policy=new).
        for _ in range(150):
            with contextlib.suppress(NotFoundError):
                await js.consumer_info(stream, "drift")
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("timed out waiting for the managed durable")
        for index in range(3):
            await js.publish(f"{stream.lower()}.shared.{index}", b"{}")

        def image() -> str:
            return str(kmock.objects[deployment].raw["spec"]["template"]["spec"]["containers"][0]["image"])

        def lag() -> int:
            status = kmock.objects[(POOL_RESOURCE, NS, "drift")].raw.get("status") or {}
            return int((status.get("lag") or {}).get("total", 0))

        await eventually(lambda: image() == "ghcr.io/noetl/noetl-workerpool-worker:0.1.0", "the timer to repair drift")
        await eventually(lambda: lag() == 3, "the timer to refresh the lag")

        # The same story in the operator's metrics.
        def sample(name: str, **labels: str) -> float | None:
            value = operator.registry.get_sample_value(name, labels)
            return None if value is None else float(value)

        pool_labels = {"namespace": NS, "pool": "drift"}
        await eventually(
            lambda: sample("noetl_operator_consumer_pending_messages", **pool_labels) == 3, "the lag gauge"
        )
        await eventually(
            lambda: sample("noetl_operator_drift_repairs_total", **pool_labels, kind="Deployment") == 1,
            "the drift repair to be counted",
        )
        # The repairing reconciliation is counted once it has finished (status written).
        await eventually(
            lambda: (sample("noetl_operator_reconciles_total", **pool_labels, outcome="ok") or 0) >= 2,
            "the repairing reconciliation to be counted",
        )
        assert (sample("noetl_operator_applies_total", kind="Deployment") or 0) >= 2  # created, then repaired
        assert sample("noetl_operator_dead_letter_messages", **pool_labels) == 0
        assert sample("noetl_operator_pool_max_replicas", **pool_labels) == 20
        assert sample("noetl_operator_pool_condition", **pool_labels, condition="ConsumerReady", status="True") == 1
        assert sample("noetl_operator_pool_condition", **pool_labels, condition="ConsumerReady", status="False") == 0
        assert (sample("noetl_operator_reconcile_duration_seconds_count") or 0) >= 2
    finally:
        await client.close()


async def test_an_idle_operator_only_reads_and_shares_one_nats_connection(
    kmock: ApplyingEmulator, operator: None, nats_server: NatsServer
) -> None:
    stream = f"HANDLERS_{next(_counter)}"
    client = await nats_connect(nats_server.url)
    await client.jetstream().add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    await client.close()
    names = ("idle-a", "idle-b")
    try:
        for name in names:
            pool = {
                "apiVersion": "noetl.io/v1alpha1",
                "kind": "NoetlWorkerPool",
                "metadata": {
                    "name": name,
                    "namespace": NS,
                    "uid": f"uid-{name}",
                    "generation": 1,
                    "resourceVersion": "1",
                },
                "spec": {
                    "image": {"tag": "0.1.0"},
                    "nats": {"url": nats_server.url, "stream": stream, "subject": stream.lower()},
                    "consumer": {
                        "durableName": name.replace("-", "_"),
                        "management": "managed",
                        "preventDelete": False,
                    },
                },
            }
            async with kmock.post(f"/apis/noetl.io/v1alpha1/namespaces/{NS}/noetlworkerpools", json=pool) as response:
                assert response.status < 300

        def consumer_reason(name: str) -> str | None:
            status = kmock.objects[(POOL_RESOURCE, NS, name)].raw.get("status") or {}
            found = [c for c in status.get("conditions", []) if c["type"] == "ConsumerReady"]
            return found[0]["reason"] if found else None

        # Settled: the second reconciliation sees the durable it created as in sync.
        await eventually(lambda: all(consumer_reason(name) == "InSync" for name in names), "both pools settled")
        seen = len(kmock)
        await asyncio.sleep(3.5)  # three resync periods of the fixture's operator
        later = list(kmock)[seen:]

        assert any(request.method.value == "GET" for request in later), "the resyncs ran"
        writes = [f"{request.method.value} {request.url.path}" for request in later if request.method.value != "GET"]
        assert writes == [], "an unchanged pool is neither re-applied nor its status rewritten"
        with urllib.request.urlopen(f"{nats_server.monitor_url}/connz?limit=1024", timeout=5) as response:
            connz = json.load(response)
        ours = [conn for conn in connz.get("connections", []) if conn.get("name") == "noetl-operator"]
        assert len(ours) == 1, "both pools' checks share one connection to their server"
    finally:
        for name in names:
            async with kmock.delete(f"/apis/noetl.io/v1alpha1/namespaces/{NS}/noetlworkerpools/{name}"):
                pass


@pytest.mark.kmock(cls=ApplyingEmulator)
async def test_deletion_without_the_nats_secret_reports_instead_of_hanging(kmock: ApplyingEmulator) -> None:
    declare_cluster(kmock, keda=False)
    pool = {
        "apiVersion": "noetl.io/v1alpha1",
        "kind": "NoetlWorkerPool",
        "metadata": {"name": "orphan", "namespace": NS},
        "spec": {
            "image": {"tag": "1"},
            "nats": {"credentialsSecretRef": {"name": "deleted-with-the-pool"}},
            "consumer": {"management": "managed", "preventDelete": False},
        },
    }
    async with KubeClient(KubeConnection(server=str(kmock.url))) as kube:
        report = await release_consumer(pool, kube, 0.5)
    assert (report.ready, report.reason) == (False, "SecretsMissing")
    assert "Secret team-h/deleted-with-the-pool not found" in report.message
