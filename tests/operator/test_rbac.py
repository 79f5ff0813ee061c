"""deploy/base/rbac.yaml grants exactly what the operator's code does with the Kubernetes API.

The code declares its calls (``kube.API_CALLS`` is enforced at runtime by the client; kopf's own needs are
``handlers.FRAMEWORK_API_CALLS``); the requests a real reconciliation sends to the emulator are mapped
back to (group, resource, verb) and must be covered too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from noetl_operator.handlers import FRAMEWORK_API_CALLS
from noetl_operator.kube import API_CALLS, ApiCall, KubeClient, KubeConnection
from noetl_operator.reconcile import reconcile

from tests.operator.crdcheck import ROOT
from tests.operator.kmockapi import ApplyingEmulator, declare_cluster

RBAC = ROOT / "deploy" / "base" / "rbac.yaml"


def granted() -> set[ApiCall]:
    calls: set[ApiCall] = set()
    for document in yaml.safe_load_all(RBAC.read_text(encoding="utf-8")):
        if document["kind"] not in ("ClusterRole", "Role"):
            continue
        for rule in document["rules"]:
            assert "resourceNames" not in rule or rule["resources"] != ["secrets"]
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        assert "*" not in (group, resource, verb), f"wildcard in {rule}"
                        calls.add(ApiCall(group, resource, verb))
    return calls


@pytest.mark.unit
def test_rbac_grants_exactly_the_declared_calls() -> None:
    declared = set(API_CALLS | FRAMEWORK_API_CALLS)
    assert granted() - declared == set(), "granted but never used"
    assert declared - granted() == set(), "used but not granted"


@pytest.mark.unit
def test_secrets_are_only_ever_read() -> None:
    assert {call.verb for call in granted() if call.resource == "secrets"} == {"get"}


@pytest.mark.unit
def test_the_binding_names_the_operators_service_account() -> None:
    documents = list(yaml.safe_load_all(RBAC.read_text(encoding="utf-8")))
    binding = next(doc for doc in documents if doc["kind"] == "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "noetl-operator"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "noetl-operator", "namespace": "noetl-system"}]


@pytest.mark.unit
async def test_the_client_refuses_an_undeclared_call() -> None:
    async with KubeClient(KubeConnection(server="http://127.0.0.1:9")) as client:
        with pytest.raises(PermissionError, match=r"not declared in kube\.API_CALLS"):
            await client._call(ApiCall("", "pods", "list"), "GET", "/api/v1/pods")


_VERBS = {"GET": "get", "PATCH": "patch", "DELETE": "delete", "POST": "create", "PUT": "update"}


@pytest.fixture
async def kube(kmock: ApplyingEmulator) -> AsyncIterator[KubeClient]:
    declare_cluster(kmock, keda=True)
    client = KubeClient(KubeConnection(server=str(kmock.url)))
    yield client
    await client.close()


@pytest.mark.integration
@pytest.mark.kmock(cls=ApplyingEmulator)
async def test_every_request_of_a_reconciliation_is_granted(kmock: ApplyingEmulator, kube: KubeClient) -> None:
    pool: dict[str, Any] = {
        "apiVersion": "noetl.io/v1alpha1",
        "kind": "NoetlWorkerPool",
        "metadata": {"name": "rbac", "namespace": "ns", "uid": "u", "generation": 1},
        "spec": {
            "image": {"tag": "1"},
            "keychain": {"secretRefs": ["absent"]},
            "nats": {"url": "nats://127.0.0.1:9"},
        },
    }
    await reconcile(pool, kube, nats_connect_timeout=0.2)  # the missing Secret: reads only
    pool["spec"]["keychain"]["secretRefs"] = []
    pool["spec"]["serviceAccount"] = {"create": True}
    await reconcile(pool, kube, nats_connect_timeout=0.2)  # applies every child
    pool["spec"].update({"autoscaling": {"enabled": False}, "podDisruptionBudget": {"enabled": False}})
    pool["spec"]["serviceAccount"] = {"create": False}
    await reconcile(pool, kube, nats_connect_timeout=0.2)  # removes the ScaledObject, PDB and account

    used: set[ApiCall] = set()
    for request in kmock:
        if request.resource is None or request.name is None:
            continue  # discovery (/apis/...) is allowed to every authenticated user
        group = request.resource.group or ""
        used.add(ApiCall(group, request.resource.plural or "", _VERBS[request.method.value]))
    assert {call.verb for call in used} == {"get", "patch", "delete"}
    assert used <= granted()
