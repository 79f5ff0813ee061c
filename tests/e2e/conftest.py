"""Fixtures for the e2e tier's own machinery: a real API server (envtest) to realise Pods on.

The e2e suite itself lives in e2e/tests; what is tested here is the pod runner it stands on.
Missing envtest assets skip with a hint on a laptop and fail in CI, as in tests/envtest.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import kubernetes.client
import pytest

from tests.support.envtest import EnvtestCluster, require_assets, start_envtest

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def pod_cluster() -> Iterator[EnvtestCluster]:
    """kube-apiserver + etcd + kube-controller-manager (Deployments, ReplicaSets, garbage collection)."""
    with start_envtest(require_assets()) as cluster:
        yield cluster


@pytest.fixture
def kube(pod_cluster: EnvtestCluster) -> Iterator[kubernetes.client.ApiClient]:
    with pod_cluster.api_client() as api:
        yield api


@pytest.fixture
def namespace(kube: kubernetes.client.ApiClient) -> Iterator[str]:
    """A fresh namespace, yielded once its ``default`` ServiceAccount exists (Pods are refused before)."""
    name = f"pr-{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(kube)
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name)))
    deadline = time.monotonic() + 30
    while not core.list_namespaced_service_account(name, field_selector="metadata.name=default").items:
        assert time.monotonic() < deadline, f"namespace {name} got no default ServiceAccount"
        time.sleep(0.1)
    yield name
    core.delete_namespace(name)
