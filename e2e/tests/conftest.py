"""Fixtures of the e2e suite: the cluster and control plane under test, and pools that clean up after themselves.

Without ``NOETL_E2E_KUBECONFIG`` and ``NOETL_E2E_CONTROL_PLANE_URL`` every test skips with one line
saying so; e2e/kind/run.sh sets both for the kind cluster it builds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from e2e.harness.cluster import Cluster, Manifest, connect
from e2e.harness.controlplane import ControlPlane, ControlPlaneError, StandinControlPlane
from e2e.harness.pools import ready_pool
from e2e.harness.settings import E2ESettings
from e2e.harness.waiting import wait_for


@pytest.fixture(scope="session")
def settings() -> E2ESettings:
    return E2ESettings()


@pytest.fixture(scope="session")
def cluster(settings: E2ESettings) -> Iterator[Cluster]:
    if settings.kubeconfig is None and settings.backend == "kubeconfig":
        pytest.skip("no cluster configured: set NOETL_E2E_KUBECONFIG (e2e/kind/run.sh does)")
    with connect(settings) as connected:
        yield connected


@pytest.fixture(scope="session")
def control_plane(settings: E2ESettings) -> Iterator[ControlPlane]:
    if settings.control_plane_url is None:
        pytest.skip("no control plane configured: set NOETL_E2E_CONTROL_PLANE_URL (e2e/kind/run.sh does)")
    client = StandinControlPlane(settings.control_plane_url)
    try:
        client.check()
    except ControlPlaneError as error:
        pytest.fail(f"the control plane at {settings.control_plane_url} is not answering: {error}")
    yield client
    client.close()


PoolFactory = Callable[[Manifest], Manifest]


def gone(cluster: Cluster, name: str) -> Callable[[], bool]:
    return lambda: cluster.pool(name) is None


@pytest.fixture
def make_pool(cluster: Cluster, settings: E2ESettings) -> Iterator[PoolFactory]:
    """Create Ready pools; at teardown delete them and wait until they are gone (finalizer included)."""
    created: list[str] = []

    def make(manifest: Manifest) -> Manifest:
        created.append(manifest["metadata"]["name"])
        return ready_pool(cluster, settings, manifest)

    yield make
    for name in created:
        cluster.delete_pool(name)
    for name in created:
        wait_for(
            f"pool {name} to be deleted",
            gone(cluster, name),
            timeout=settings.timeout_seconds,
            poll=settings.poll_seconds,
        )
