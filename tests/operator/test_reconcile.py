"""One reconciliation against the kmock Kubernetes emulator and a real nats-server.

The emulator stores what the operator applies and serves it back; the tests play the Deployment
controller and KEDA by writing their status, exactly the fields those controllers own.
"""

from __future__ import annotations

import base64
import copy
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kmock import method, resource
from noetl_operator.kube import KubeClient, KubeConnection
from noetl_operator.reconcile import reconcile
from noetl_operator.tracker import AppliedChildren

from tests.operator.conftest import nats_connect
from tests.operator.kmockapi import KEDA_RESOURCE, ApplyingEmulator, declare_cluster, exists
from tests.support.nats import NatsServer

pytestmark = [pytest.mark.integration, pytest.mark.kmock(cls=ApplyingEmulator)]

NS = "team-a"
DEPLOYMENTS = "apps/v1/deployments"
_counter = itertools.count()


def secret(name: str, namespace: str = NS, **data: str) -> dict[str, Any]:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": encoded}


@pytest.fixture
async def stream(nats_server: NatsServer) -> str:
    """A fresh command stream on the session's nats-server."""
    name = f"RECONCILE_{next(_counter)}"
    client = await nats_connect(nats_server.url)
    try:
        await client.jetstream().add_stream(name=name, subjects=[f"{name.lower()}.>"])
    finally:
        await client.close()
    return name


@pytest.fixture
def pool(nats_server: NatsServer, stream: str) -> dict[str, Any]:
    """A managed, autoscaled pool with keychain Secrets, as the API server hands it to the operator."""
    return {
        "apiVersion": "noetl.io/v1alpha1",
        "kind": "NoetlWorkerPool",
        "metadata": {"name": "shared", "namespace": NS, "uid": "uid-1", "generation": 1},
        "spec": {
            "image": {"tag": "0.1.0"},
            "nats": {"url": nats_server.url, "stream": stream, "subject": stream.lower()},
            "consumer": {
                "durableName": "workers",
                "filterSubject": f"{stream.lower()}.shared.>",
                "management": "managed",
            },
            "keychain": {
                "secretRefs": ["creds"],
                "secretKeyRefs": [{"env": "API_TOKEN", "secretName": "token", "key": "token"}],
            },
        },
    }


@pytest.fixture
async def kube(kmock: ApplyingEmulator) -> AsyncIterator[KubeClient]:
    declare_cluster(kmock, keda=True)
    kmock.objects["v1/secrets", NS, "creds"] = secret("creds", DUFFEL_API_KEY="k1", OTHER_KEY="k2")
    kmock.objects["v1/secrets", NS, "token"] = secret("token", token="t")
    client = KubeClient(KubeConnection(server=str(kmock.url)))
    yield client
    await client.close()


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["type"]: item for item in status["conditions"]}


def stored(emulator: ApplyingEmulator, resource: str, name: str) -> dict[str, Any]:
    return dict(emulator.objects[resource, NS, name].raw)


def play_controllers(emulator: ApplyingEmulator) -> None:
    """What the Deployment controller and KEDA would write once the workers are up."""
    emulator.objects[DEPLOYMENTS, NS, "noetl-worker-shared"].patch(
        {
            "status": {
                "observedGeneration": 1,
                "replicas": 2,
                "readyReplicas": 2,
                "updatedReplicas": 2,
                "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
            }
        }
    )
    emulator.objects[KEDA_RESOURCE, NS, "noetl-worker-shared"].patch(
        {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ScaledObjectReady"}]}}
    )


async def test_create_applies_every_child_and_reports_progress(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    status = await reconcile(pool, kube)

    deployment = stored(kmock, DEPLOYMENTS, "noetl-worker-shared")
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert "replicas" not in deployment["spec"]
    env = {
        entry["name"]: entry.get("value") for entry in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["NOETL_KEYCHAIN_ENV_VARS"] == "API_TOKEN,DUFFEL_API_KEY,OTHER_KEY"
    for kind, name in (
        ("v1/services", "noetl-worker-shared-metrics"),
        ("policy/v1/poddisruptionbudgets", "noetl-worker-shared"),
        (KEDA_RESOURCE, "noetl-worker-shared"),
    ):
        assert stored(kmock, kind, name)["metadata"]["ownerReferences"][0]["kind"] == "NoetlWorkerPool"

    state = conditions(status)
    assert status["observedGeneration"] == 1
    assert (state["SecretsResolved"]["status"], state["ConsumerReady"]["reason"]) == ("True", "Created")
    assert (state["DeploymentAvailable"]["status"], state["ScalerReady"]["status"]) == ("False", "Unknown")
    assert (state["Ready"]["status"], state["Degraded"]["status"]) == ("False", "False")
    assert all(item["observedGeneration"] == 1 and item["lastTransitionTime"] for item in status["conditions"])
    assert status["lag"]["total"] == 0
    assert status["keychainEnvVars"] == ["API_TOKEN", "DUFFEL_API_KEY", "OTHER_KEY"]
    assert status["selector"] == "app.kubernetes.io/name=noetl-worker,noetl.io/pool=shared"


async def test_children_are_written_with_server_side_apply_under_one_field_manager(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    await reconcile(pool, kube)
    writes = [request for request in kmock if request.method == method.PATCH]
    assert len(writes) == 4
    for request in writes:
        assert request.headers["Content-Type"] == "application/apply-patch+yaml"
        assert request.params == {"fieldManager": "noetl-operator", "force": "true"}


async def test_ready_once_the_deployment_and_keda_report_ready(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    first = await reconcile(pool, kube)
    play_controllers(kmock)
    pool["status"] = first
    second = await reconcile(pool, kube)
    state = conditions(second)
    assert {kind: item["status"] for kind, item in state.items()} == {
        "Ready": "True",
        "SecretsResolved": "True",
        "DeploymentAvailable": "True",
        "ConsumerReady": "True",
        "ScalerReady": "True",
        "Degraded": "False",
    }
    assert (second["replicas"], second["readyReplicas"]) == (2, 2)
    assert state["ConsumerReady"]["reason"] == "InSync"
    unchanged = conditions(first)["SecretsResolved"]["lastTransitionTime"]
    assert state["SecretsResolved"]["lastTransitionTime"] == unchanged


async def test_an_update_reshapes_the_children(kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]) -> None:
    await reconcile(pool, kube)
    updated = copy.deepcopy(pool)
    updated["metadata"]["generation"] = 2
    updated["spec"].update({"maxConcurrent": 12, "autoscaling": {"enabled": False}, "replicas": 3})
    status = await reconcile(updated, kube)

    deployment = stored(kmock, DEPLOYMENTS, "noetl-worker-shared")
    assert deployment["spec"]["replicas"] == 3
    env = {
        entry["name"]: entry.get("value") for entry in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["WORKER_MAX_CONCURRENT"] == "12"
    assert not exists(kmock, KEDA_RESOURCE, NS, "noetl-worker-shared")
    assert conditions(status)["ScalerReady"]["reason"] == "AutoscalingDisabled"
    assert status["observedGeneration"] == 2


async def test_drift_is_repaired_on_the_next_reconciliation(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    await reconcile(pool, kube)
    kmock.objects[DEPLOYMENTS, NS, "noetl-worker-shared"].patch(
        {"spec": {"template": {"spec": {"containers": [{"name": "worker", "image": "evil:1"}]}}}}
    )
    await reconcile(pool, kube)
    container = stored(kmock, DEPLOYMENTS, "noetl-worker-shared")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/noetl/noetl-workerpool-worker:0.1.0"


async def test_secret_rotation_rolls_the_pods(kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]) -> None:
    def checksum() -> str:
        template = stored(kmock, DEPLOYMENTS, "noetl-worker-shared")["spec"]["template"]
        return str(template["metadata"]["annotations"]["noetl.io/secrets-checksum"])

    await reconcile(pool, kube)
    before = checksum()
    kmock.objects["v1/secrets", NS, "token"] = secret("token", token="rotated")
    await reconcile(pool, kube)
    assert checksum() != before


async def test_a_missing_secret_is_reported_by_name_and_nothing_is_rolled_out(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    pool["spec"]["keychain"]["secretRefs"].append("not-there")
    status = await reconcile(pool, kube)
    state = conditions(status)
    assert state["SecretsResolved"]["status"] == "False"
    assert state["SecretsResolved"]["reason"] == "SecretNotFound"
    assert "Secret team-a/not-there not found" in state["SecretsResolved"]["message"]
    assert state["Degraded"]["status"] == "True"
    assert not exists(kmock, DEPLOYMENTS, NS, "noetl-worker-shared")

    kmock.objects["v1/secrets", NS, "not-there"] = secret("not-there", LATE="1")
    healed = conditions(await reconcile(pool, kube))
    assert healed["SecretsResolved"]["status"] == "True"
    assert exists(kmock, DEPLOYMENTS, NS, "noetl-worker-shared")


async def test_secrets_of_other_namespaces_are_never_used(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    kmock.objects["v1/secrets", "elsewhere", "foreign"] = secret("foreign", "elsewhere", STOLEN="x")
    pool["spec"]["keychain"]["secretRefs"] = ["foreign"]
    status = await reconcile(pool, kube)
    assert "Secret team-a/foreign not found" in conditions(status)["SecretsResolved"]["message"]
    secret_reads = [request.namespace for request in kmock if request.resource == resource("v1/secrets")]
    assert set(secret_reads) == {NS}


async def test_a_missing_key_is_reported_with_its_secret(kube: KubeClient, pool: dict[str, Any]) -> None:
    pool["spec"]["keychain"]["secretKeyRefs"][0]["key"] = "nope"
    message = conditions(await reconcile(pool, kube))["SecretsResolved"]["message"]
    assert message == "key nope missing in Secret team-a/token"


async def test_without_keda_the_scaler_is_not_ready_and_the_workers_still_run(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    del kmock.resources[KEDA_RESOURCE]
    status = await reconcile(pool, kube)
    state = conditions(status)
    assert (state["ScalerReady"]["status"], state["ScalerReady"]["reason"]) == ("False", "KedaNotInstalled")
    assert state["Degraded"]["status"] == "True"
    assert exists(kmock, DEPLOYMENTS, NS, "noetl-worker-shared")
    assert not exists(kmock, KEDA_RESOURCE, NS, "noetl-worker-shared")


async def test_an_invalid_spec_is_a_degraded_status_not_a_crash(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    pool["spec"]["autoscaling"] = {"minReplicas": 9, "maxReplicas": 2}
    status = await reconcile(pool, kube)
    state = conditions(status)
    assert state["Degraded"]["reason"] == "InvalidSpec"
    assert "spec.autoscaling.minReplicas must be <= autoscaling.maxReplicas" in state["Ready"]["message"]
    assert not [request for request in kmock if request.method == method.PATCH]


async def test_unreachable_nats_only_marks_the_consumer(kube: KubeClient, pool: dict[str, Any]) -> None:
    pool["spec"]["nats"]["url"] = "nats://127.0.0.1:1"
    state = conditions(await reconcile(pool, kube, nats_connect_timeout=0.5))
    assert (state["ConsumerReady"]["status"], state["ConsumerReady"]["reason"]) == ("False", "NatsUnavailable")
    assert state["Degraded"]["status"] == "False"


async def test_a_child_refused_by_the_api_server_is_reported_not_raised(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    forbidden = {"kind": "Status", "message": "poddisruptionbudgets is forbidden: the admission webhook said no"}
    kmock["patch", resource("policy/v1/poddisruptionbudgets")] << 403 << forbidden
    status = await reconcile(pool, kube)
    state = conditions(status)
    assert (state["Degraded"]["status"], state["Degraded"]["reason"]) == ("True", "ApplyRejected")
    assert "HTTP 403: poddisruptionbudgets is forbidden: the admission webhook said no" in state["Ready"]["message"]


async def test_an_object_of_the_same_name_owned_by_someone_else_is_never_taken_over(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    foreign = {"metadata": {"name": "noetl-worker-shared", "namespace": NS, "labels": {"team": "other"}}}
    kmock.objects[DEPLOYMENTS, NS, "noetl-worker-shared"] = foreign
    status = await reconcile(pool, kube)
    state = conditions(status)
    assert (state["Degraded"]["status"], state["Degraded"]["reason"]) == ("True", "ApplyRejected")
    assert (
        "Deployment team-a/noetl-worker-shared: HTTP 409: exists and is controlled by nobody"
        in state["Ready"]["message"]
    )
    assert stored(kmock, DEPLOYMENTS, "noetl-worker-shared") == foreign


async def test_with_memory_an_unchanged_pool_is_only_read(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    memory = AppliedChildren()
    pool["status"] = await reconcile(pool, kube, memory=memory)
    pool["status"] = await reconcile(pool, kube, memory=memory)  # the consumer goes from Created to InSync
    applied = len(kmock)
    again = await reconcile(pool, kube, memory=memory)

    later = list(kmock)[applied:]
    assert later, "the resync read the children"
    assert [request for request in later if request.method != method.GET] == []
    assert again == pool["status"], "nothing changed, so the status is the same (a write would be a wasted one)"


async def test_with_memory_a_spec_change_is_applied(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    memory = AppliedChildren()
    await reconcile(pool, kube, memory=memory)
    pool["metadata"]["generation"] = 2
    pool["spec"]["maxConcurrent"] = 7
    await reconcile(pool, kube, memory=memory)
    container = stored(kmock, DEPLOYMENTS, "noetl-worker-shared")["spec"]["template"]["spec"]["containers"][0]
    assert {entry["name"]: entry.get("value") for entry in container["env"]}["WORKER_MAX_CONCURRENT"] == "7"


async def test_with_memory_drift_is_still_repaired_and_reported(
    kmock: ApplyingEmulator, kube: KubeClient, pool: dict[str, Any]
) -> None:
    memory = AppliedChildren()
    pool["status"] = await reconcile(pool, kube, memory=memory)
    # A hand edit: the API server moves the generation of a changed spec (the emulator needs telling).
    kmock.objects[DEPLOYMENTS, NS, "noetl-worker-shared"].patch(
        {"metadata": {"generation": 7}, "spec": {"template": {"spec": {"containers": [{"name": "w", "image": "x:1"}]}}}}
    )
    repaired: list[list[str]] = []
    await reconcile(pool, kube, memory=memory, on_drift=repaired.append)
    container = stored(kmock, DEPLOYMENTS, "noetl-worker-shared")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/noetl/noetl-workerpool-worker:0.1.0"
    assert repaired == [["Deployment/noetl-worker-shared"]]


async def test_an_unchanged_lag_keeps_its_time_stamp(kube: KubeClient, pool: dict[str, Any]) -> None:
    first = await reconcile(pool, kube)
    pool["status"] = {**first, "lag": {**first["lag"], "checkedAt": "2020-01-01T00:00:00Z"}}
    second = await reconcile(pool, kube)
    assert second["lag"]["checkedAt"] == "2020-01-01T00:00:00Z"
