"""A worker pool on a real cluster: commands complete, the pool follows the lag, survives a killed pod and a
rolling update, and cleans up.

Each test creates its own pool (unique name, its own durable consumer) through the operator and
submits work through the control plane; nothing here knows whether pods are containers on kind or
local processes on the envtest backend. What a cluster can or cannot do (KEDA installed, an
external-metrics API for the HPA) is read from its API discovery, not from the backend's name.
"""

from __future__ import annotations

import time

import pytest
from noetl_standin.jobs import JobStatus, JobView

from e2e.harness.cluster import Cluster, Manifest
from e2e.harness.controlplane import ControlPlane, finished, sleep_job
from e2e.harness.pools import condition, pool_manifest, unique_name, worker_selector
from e2e.harness.settings import E2ESettings
from e2e.harness.waiting import wait_for
from e2e.tests.conftest import PoolFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

# Scale quickly in both directions so the test measures the pool, not HPA's default 5-minute window.
FAST_HPA = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 4, "periodSeconds": 5}]},
    "scaleDown": {
        "stabilizationWindowSeconds": 10,
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 5}],
    },
}


def run_to_completion(control_plane: ControlPlane, execution_id: int, settings: E2ESettings, budget: float) -> JobView:
    def done() -> JobView | None:
        view = control_plane.job(execution_id)
        return view if finished(view) else None

    return wait_for(
        f"job {execution_id} to finish",
        done,
        timeout=budget,
        poll=settings.poll_seconds,
        describe=lambda: str(control_plane.job(execution_id).status),
    )


def assert_every_command_done(view: JobView) -> None:
    assert view.status == JobStatus.COMPLETED, f"job ended {view.status}: {view.error}"
    not_done = {name: command.state for name, command in view.commands.items() if command.state != "done"}
    assert not not_done, f"commands not done: {not_done}"


def replicas(cluster: Cluster, deployment: str) -> int:
    found = cluster.deployment(deployment)
    return int(((found or {}).get("spec") or {}).get("replicas") or 0)


def lag(cluster: Cluster, pool: str) -> object:
    return ((cluster.pool(pool) or {}).get("status") or {}).get("lag")


def test_every_command_of_a_job_completes(
    cluster: Cluster, control_plane: ControlPlane, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    make_pool(pool_manifest(unique_name("e2e-complete"), settings, replicas=2))

    execution_id = control_plane.submit(sleep_job(commands=30, seconds=0.2, prefix="complete"))

    assert_every_command_done(run_to_completion(control_plane, execution_id, settings, settings.timeout_seconds))


KEDA = "keda.sh/v1alpha1"
EXTERNAL_METRICS = "external.metrics.k8s.io/v1beta1"


def require_keda(cluster: Cluster) -> None:
    if not cluster.serves(KEDA):
        pytest.skip(f"KEDA is not installed in the cluster under test (nothing serves {KEDA})")


def test_the_pool_scales_out_on_lag_and_back_in_after_draining(
    cluster: Cluster, control_plane: ControlPlane, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    require_keda(cluster)
    if not cluster.serves(EXTERNAL_METRICS):
        pytest.xfail(
            f"nothing serves {EXTERNAL_METRICS} (KEDA's metrics API server is not running — on the envtest "
            "backend it is not built), so the HPA cannot read the lag and cannot scale 1 -> N; KEDA's own "
            "0 <-> 1 scaling on real lag is proven by test_an_idle_pool_wakes_on_lag_and_sleeps_again"
        )
    name = unique_name("e2e-scale")
    autoscaling = {
        "enabled": True,
        "minReplicas": 1,
        "maxReplicas": 4,
        "pollingIntervalSeconds": 5,
        "cooldownPeriodSeconds": 15,
        "lagThreshold": 2,
        "activationLagThreshold": 1,
        "behavior": FAST_HPA,
    }
    pool = make_pool(pool_manifest(name, settings, autoscaling=autoscaling, max_concurrent=1))
    deployment = pool["status"]["deploymentName"]
    assert replicas(cluster, deployment) == 1

    # 48 commands of 3 s on one slot per pod: ~144 s of work for one pod, so lag builds up at once.
    execution_id = control_plane.submit(sleep_job(commands=48, seconds=3, prefix="scale"))
    wait_for(
        f"{deployment} to scale out beyond 1 replica",
        lambda: replicas(cluster, deployment) > 1,
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
        describe=lambda: f"replicas={replicas(cluster, deployment)} lag={lag(cluster, name)}",
    )
    assert_every_command_done(run_to_completion(control_plane, execution_id, settings, settings.timeout_seconds * 2))

    wait_for(
        f"{deployment} to scale back in to 1 replica once drained",
        lambda: replicas(cluster, deployment) == 1,
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
        describe=lambda: f"replicas={replicas(cluster, deployment)}",
    )


def test_an_idle_pool_wakes_on_lag_and_sleeps_again(
    cluster: Cluster, control_plane: ControlPlane, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    require_keda(cluster)
    name = unique_name("e2e-wake")
    autoscaling = {
        "enabled": True,
        "minReplicas": 0,
        "maxReplicas": 2,
        "pollingIntervalSeconds": 2,
        "cooldownPeriodSeconds": 10,
        "lagThreshold": 2,
        "activationLagThreshold": 0,
        "behavior": FAST_HPA,
    }
    manifest = pool_manifest(name, settings, autoscaling=autoscaling, max_concurrent=2)
    # A woken pod must be seen Ready before KEDA puts it back to sleep: with the default readiness probe
    # (first after 5 s, then every 10 s) a real kubelet may report Ready only after a short job is done.
    manifest["spec"]["probes"] = {"readiness": {"initialDelaySeconds": 0, "periodSeconds": 2, "timeoutSeconds": 1}}
    pool = make_pool(manifest)
    deployment = pool["status"]["deploymentName"]
    pods = worker_selector(name)
    assert (condition(pool, "ScalerReady") or {}).get("status") == "True", "KEDA's ScaledObject is not Ready"

    def state() -> str:
        return f"replicas={replicas(cluster, deployment)} pods={len(cluster.pods(pods))} lag={lag(cluster, name)}"

    # With no lag KEDA takes the Deployment down to zero after the cooldown.
    wait_for(
        f"{deployment} to sleep at 0 replicas",
        lambda: replicas(cluster, deployment) == 0 and not cluster.pods(pods),
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
        describe=state,
    )

    # 8 x 3 s on two slots: the woken pod works for ~12 s, then idles through the 10 s cooldown.
    execution_id = control_plane.submit(sleep_job(commands=8, seconds=3, prefix="wake"))
    wait_for(
        f"{deployment} to wake up with a Ready pod",
        lambda: replicas(cluster, deployment) >= 1 and any(ready(pod) for pod in cluster.pods(pods)),
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
        describe=state,
    )
    assert_every_command_done(run_to_completion(control_plane, execution_id, settings, settings.timeout_seconds))

    wait_for(
        f"{deployment} to go back to 0 replicas after the cooldown",
        lambda: replicas(cluster, deployment) == 0 and not cluster.pods(pods),
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
        describe=state,
    )


def ready(pod: Manifest) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def test_killing_a_worker_pod_mid_run_loses_no_command(
    cluster: Cluster, control_plane: ControlPlane, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    name = unique_name("e2e-kill")
    make_pool(pool_manifest(name, settings, replicas=2, max_concurrent=2))
    wait_for(
        "two running worker pods",
        lambda: len(cluster.pods(worker_selector(name))) == 2,
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
    )

    execution_id = control_plane.submit(sleep_job(commands=24, seconds=2, prefix="kill"))
    # Kill once work is demonstrably in flight: some commands done, most still to go.
    wait_for(
        "the first commands to complete",
        lambda: sum(c.state == "done" for c in control_plane.job(execution_id).commands.values()) >= 2,
        timeout=settings.timeout_seconds,
        poll=0.5,
    )
    victim = cluster.pods(worker_selector(name))[0]["metadata"]["name"]
    cluster.kill_pod(victim)

    assert_every_command_done(run_to_completion(control_plane, execution_id, settings, settings.timeout_seconds * 2))
    wait_for(
        "the killed pod to be replaced",
        lambda: (
            len(pods := cluster.pods(worker_selector(name))) == 2
            and victim not in {pod["metadata"]["name"] for pod in pods}
        ),
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
    )


def rolled_out(cluster: Cluster, deployment: str) -> bool:
    """The Deployment runs only its current template, with every replica available."""
    found = cluster.deployment(deployment)
    if found is None:
        return False
    status = found.get("status") or {}
    wanted = (found.get("spec") or {}).get("replicas") or 0
    return (
        status.get("observedGeneration") == found["metadata"].get("generation")
        and status.get("updatedReplicas") == wanted
        and status.get("availableReplicas") == wanted
        and status.get("replicas") == wanted
    )


def test_a_spec_change_rolls_the_pods_without_losing_a_command(
    cluster: Cluster, control_plane: ControlPlane, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    name = unique_name("e2e-roll")
    manifest = pool_manifest(name, settings, replicas=2, max_concurrent=2)
    pool = make_pool(manifest)
    deployment = pool["status"]["deploymentName"]

    execution_id = control_plane.submit(sleep_job(commands=30, seconds=1, prefix="roll"))
    cluster.apply_pool(pool_manifest(name, settings, replicas=2, max_concurrent=3))

    assert_every_command_done(run_to_completion(control_plane, execution_id, settings, settings.timeout_seconds * 2))
    wait_for(
        f"{deployment} to finish rolling out",
        lambda: rolled_out(cluster, deployment),
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
    )
    for pod in cluster.pods(worker_selector(name)):
        (container,) = pod["spec"]["containers"]
        env = {item["name"]: item.get("value") for item in container.get("env") or []}
        assert env.get("WORKER_MAX_CONCURRENT") == "3", f"{pod['metadata']['name']} still runs the old template"


def test_deleting_the_pool_removes_every_child(
    cluster: Cluster, control_plane: ControlPlane, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    name = unique_name("e2e-delete")
    # With KEDA the ScaledObject (and KEDA's HPA) must go too; without it a fixed-size pool still proves the rest.
    autoscaling = {"enabled": True, "minReplicas": 1, "maxReplicas": 2} if cluster.serves(KEDA) else None
    make_pool(pool_manifest(name, settings, autoscaling=autoscaling, replicas=None if autoscaling else 1))
    assert cluster.children(name), "a Ready pool has children"

    cluster.delete_pool(name)

    wait_for(
        f"pool {name} and its children to be gone",
        lambda: cluster.pool(name) is None and not cluster.children(name) and not cluster.pods(worker_selector(name)),
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
        describe=lambda: f"pool={'present' if cluster.pool(name) else 'gone'} children={cluster.children(name)}",
    )
    # A moment later nothing came back (no controller re-creating what the operator deleted).
    time.sleep(settings.poll_seconds * 2)
    assert not cluster.children(name)
