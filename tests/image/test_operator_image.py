"""The operator image reconciles a pool on a real API server, and its worker pods run the worker image.

The e2e harness's ``docker`` backend (e2e/harness/envtest.py with ``images=``): envtest's
kube-apiserver and controller manager, the operator as a container of ``noetl-operator:dev`` logged in
with its least-privilege ServiceAccount kubeconfig (mounted read-only), and each worker Pod the
controller manager creates run as a container of ``noetl-worker:dev`` by the pod runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from noetl_standin.jobs import JobStatus

from e2e.harness.cluster import Manifest, Target
from e2e.harness.controlplane import StandinControlPlane, finished, sleep_job
from e2e.harness.envtest import local_target
from e2e.harness.pools import pool_manifest, ready_pool, unique_name, worker_selector
from e2e.harness.settings import E2ESettings
from e2e.harness.waiting import wait_for
from tests.support.containers import docker
from tests.support.envtest import require_assets

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def target(images: dict[str, str]) -> Iterator[Target]:
    require_assets()
    settings = E2ESettings(kubeconfig=None, timeout_seconds=180, poll_seconds=0.5)
    with local_target(settings, images=images) as started:
        yield started


def worker_containers() -> list[dict[str, str]]:
    listed = docker("ps", "--filter", "name=noetl-pod-", "--format", "{{json .}}").stdout.splitlines()
    return [json.loads(line) for line in listed]


def test_the_operator_image_reconciles_a_pool_whose_pods_run_the_worker_image(
    images: dict[str, str], target: Target
) -> None:
    cluster, settings = target.cluster, target.settings
    name = unique_name("image")
    pool = ready_pool(cluster, settings, pool_manifest(name, settings, replicas=2))
    assert pool["status"]["observedGeneration"] == pool["metadata"]["generation"]
    deployment = cluster.deployment(f"noetl-worker-{name}")
    assert deployment is not None
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == images["worker"]

    def two_ready_pods() -> list[Manifest] | None:
        pods = cluster.pods(worker_selector(name))
        ready = [p for p in pods if any(c.get("ready") for c in p["status"].get("containerStatuses") or [])]
        return ready if len(ready) == 2 else None

    pods = wait_for("two Ready worker pods", two_ready_pods, timeout=180, poll=0.5, describe=target.describe)
    running = {row["Names"]: row["Image"] for row in worker_containers()}
    for pod in pods:
        (container_name,) = [n for n in running if n.startswith(f"noetl-pod-{pod['metadata']['name']}-")]
        assert running[container_name] == images["worker"]

    assert settings.control_plane_url is not None
    control_plane = StandinControlPlane(settings.control_plane_url)
    try:
        execution_id = control_plane.submit(sleep_job(commands=6, seconds=0.1, prefix="image"))
        view = wait_for(
            "the job to finish",
            lambda: v if finished(v := control_plane.job(execution_id)) else None,
            timeout=120,
            poll=0.5,
            describe=target.describe,
        )
    finally:
        control_plane.close()
    assert view.status is JobStatus.COMPLETED

    cluster.delete_pool(name)
    wait_for("the pool to be gone", lambda: cluster.pool(name) is None, timeout=120, poll=0.5)
    wait_for("its pod containers to stop", lambda: not any(
        n.startswith(f"noetl-pod-noetl-worker-{name}-") for n in (row["Names"] for row in worker_containers())
    ), timeout=120, poll=0.5)  # fmt: skip
