"""The e2e suite's harness against a real API server.

The kubeconfig backend is the one the kind run uses; here it drives the envtest API server, with no
operator running, so each Cluster method is checked on its own: pools are created, updated, read and
deleted, children are found by the pool label, pods are listed and killed.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import kubernetes.client
import pytest
from noetl_operator.builders.meta import LABEL_POOL

from e2e.harness.cluster import Cluster, connect
from e2e.harness.pools import pool_manifest, worker_selector
from e2e.harness.settings import E2ESettings
from tests.support.envtest import EnvtestCluster, require_assets, start_envtest

pytestmark = pytest.mark.envtest

IN_CI = os.environ.get("CI", "").lower() == "true"
# The NoetlWorkerPool kind with an open schema: only the harness is under test here. Whether a real API
# server accepts the generated CRD is checked by test_install_on_api_server.py.
HARNESS_CRD_BODY = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "noetlworkerpools.noetl.io"},
    "spec": {
        "group": "noetl.io",
        "scope": "Namespaced",
        "names": {"kind": "NoetlWorkerPool", "plural": "noetlworkerpools", "singular": "noetlworkerpool"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                "subresources": {"status": {}},
            }
        ],
    },
}


def harness_crd() -> kubernetes.client.V1CustomResourceDefinition:
    crd = kubernetes.client.V1CustomResourceDefinition.from_dict(HARNESS_CRD_BODY)
    assert crd is not None
    return crd


@pytest.fixture(scope="module")
def envtest() -> Iterator[EnvtestCluster]:
    with start_envtest(require_assets()) as cluster:
        with cluster.api_client() as api:
            kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(harness_crd())
            wait_established(api, "noetlworkerpools.noetl.io")
        yield cluster


def wait_established(api: kubernetes.client.ApiClient, name: str) -> None:
    extensions = kubernetes.client.ApiextensionsV1Api(api)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = extensions.read_custom_resource_definition(name).status
        conditions = (status.conditions if status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.2)
    pytest.fail(f"CRD {name} was not Established within 30 s")


@pytest.fixture
def cluster(envtest: EnvtestCluster) -> Iterator[Cluster]:
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    with envtest.api_client() as api:
        kubernetes.client.CoreV1Api(api).create_namespace(
            kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=namespace))
        )
    settings = E2ESettings(backend="kubeconfig", kubeconfig=envtest.kubeconfig_path, namespace=namespace)
    with connect(settings) as target:
        yield target.cluster


def test_pools_are_created_updated_read_and_deleted(cluster: Cluster) -> None:
    settings = E2ESettings(namespace=cluster.namespace)
    cluster.apply_pool(pool_manifest("harness", settings, replicas=1))
    created = cluster.pool("harness")
    assert created is not None
    assert created["spec"]["replicas"] == 1

    cluster.apply_pool(pool_manifest("harness", settings, replicas=3))
    updated = cluster.pool("harness")
    assert updated is not None
    assert updated["spec"]["replicas"] == 3
    assert updated["metadata"]["generation"] == created["metadata"]["generation"] + 1

    cluster.delete_pool("harness")
    assert cluster.pool("harness") is None  # no operator here, so no finalizer holds it
    cluster.delete_pool("harness")  # deleting what is gone is not an error


def test_children_and_pods_are_found_by_the_pool_label(cluster: Cluster, envtest: EnvtestCluster) -> None:
    labels = {LABEL_POOL: "labelled"}
    with envtest.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        core.create_namespaced_service(
            cluster.namespace,
            kubernetes.client.V1Service(
                metadata=kubernetes.client.V1ObjectMeta(name="labelled-metrics", labels=labels),
                spec=kubernetes.client.V1ServiceSpec(ports=[kubernetes.client.V1ServicePort(port=9090)]),
            ),
        )
        wait_for_default_account(core, cluster.namespace)
        pod = kubernetes.client.V1Pod(
            metadata=kubernetes.client.V1ObjectMeta(name="labelled-0", labels=labels),
            spec=kubernetes.client.V1PodSpec(containers=[kubernetes.client.V1Container(name="w", image="x:1")]),
        )
        core.create_namespaced_pod(cluster.namespace, pod)

    # KEDA is not installed here: the ScaledObject kind is skipped, not an error.
    assert cluster.children("labelled") == ["Service/labelled-metrics"]
    assert cluster.children("other") == []
    assert [p["metadata"]["name"] for p in cluster.pods(worker_selector("labelled"))] == ["labelled-0"]
    assert cluster.deployment("noetl-worker-labelled") is None

    cluster.kill_pod("labelled-0")
    assert cluster.pods(worker_selector("labelled")) == []


def wait_for_default_account(core: kubernetes.client.CoreV1Api, namespace: str) -> None:
    # The ServiceAccount admission plugin rejects pods until the namespace's default account exists.
    deadline = time.monotonic() + 30
    while not core.list_namespaced_service_account(namespace, field_selector="metadata.name=default").items:
        if time.monotonic() > deadline:
            pytest.fail(f"namespace {namespace} got no default ServiceAccount within 30 s")
        time.sleep(0.1)
