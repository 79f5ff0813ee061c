"""Fixtures of the envtest tier: a real kube-apiserver, etcd, kube-controller-manager and KEDA.

The control plane is session-scoped (start-up takes a few seconds; tests share
it and isolate themselves with the function-scoped ``namespace`` fixture). The
binaries come from ``scripts/envtest-assets``; when they are missing the tier
skips with a one-line hint on a developer machine and FAILS in CI (``CI=true``),
where a skipped tier would be a green run that proved nothing.

Every test collected below ``tests/envtest/`` gets the ``envtest`` marker.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client
import pytest

from tests.support.envtest import EnvtestCluster, KedaOperator, require_assets, start_envtest, start_keda

IN_CI = os.environ.get("CI", "").lower() == "true"
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.envtest)


@pytest.fixture(scope="session")
def envtest() -> Iterator[EnvtestCluster]:
    """The session's control plane: etcd + kube-apiserver (RBAC) + kube-controller-manager."""
    with start_envtest(require_assets(keda=False)) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def keda(envtest: EnvtestCluster) -> Iterator[KedaOperator]:
    """KEDA against the session's control plane: CRDs, operator and metrics API server, like a real install."""
    with start_keda(envtest, assets_dir=require_assets(keda=True), metrics_server=True) as operator:
        yield operator


@pytest.fixture
def kube_api(envtest: EnvtestCluster) -> Iterator[kubernetes.client.ApiClient]:
    """An admin ``ApiClient`` for one test."""
    with envtest.api_client() as api:
        yield api


@pytest.fixture
def namespace(kube_api: kubernetes.client.ApiClient) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting for its finalization).

    Yielded only once its ``default`` ServiceAccount exists: until then the
    ServiceAccount admission plugin rejects Pods created in it.
    """
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = kubernetes.client.CoreV1Api(kube_api)
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name)))
    deadline = time.monotonic() + 30
    while not core.list_namespaced_service_account(name, field_selector="metadata.name=default").items:
        if time.monotonic() > deadline:
            pytest.fail(f"namespace {name} got no default ServiceAccount within 30 s")
        time.sleep(0.1)
    yield name
    try:
        core.delete_namespace(name)
    except kubernetes.client.ApiException as exc:
        if exc.status != 404:
            raise
