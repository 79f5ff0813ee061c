"""What only a real kubelet shows: the worker pod as the container runtime runs it.

Pod Security admission lets the pool's pods in under ``restricted``, the runtime enforces the read-only
root filesystem, the kubelet's SIGTERM and grace period let a worker finish the commands it holds, and
the kubelet's readiness probe keeps a pool whose every slot is busy in its Service. On a backend whose
pods are not run by kubelets (envtest: pods are local processes) each test is an expected failure that
says so; on kind (`make e2e-kind`) they all run.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from noetl_operator.spec import NoetlWorkerPool

from e2e.harness.cluster import Cluster, Manifest
from e2e.harness.controlplane import ControlPlane, finished, sleep_job
from e2e.harness.pools import pool_manifest, unique_name, worker_selector
from e2e.harness.settings import E2ESettings
from e2e.harness.waiting import wait_for
from e2e.tests.conftest import PoolFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def require_kubelets(cluster: Cluster) -> None:
    if not cluster.runs_kubelets():
        pytest.xfail(
            "no Ready Node in the cluster under test: its pods are not run by a kubelet (the envtest backend "
            "runs them as local processes), so admission of a running container, the runtime's read-only root "
            "filesystem, the kubelet's SIGTERM grace period and its readiness probe cannot be observed"
        )


def ready(pod: Manifest) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def ready_reasons(pods: list[Manifest]) -> list[str]:
    """Each pod's Ready condition as `status (reason: message)`."""
    reasons = []
    for pod in pods:
        for item in (pod.get("status") or {}).get("conditions") or []:
            if item.get("type") == "Ready":
                reasons.append(f"{item.get('status')} ({item.get('reason')}: {item.get('message')})")
    return reasons or ["no pod"]


def one_ready_pod(cluster: Cluster, settings: E2ESettings, pool: str) -> Manifest:
    def found() -> Manifest | None:
        pods = [pod for pod in cluster.pods(worker_selector(pool)) if ready(pod)]
        return pods[0] if len(pods) == 1 else None

    return wait_for(f"one Ready pod of {pool}", found, timeout=settings.timeout_seconds, poll=settings.poll_seconds)


def running_claims(control_plane: ControlPlane, execution_id: int, count: int) -> dict[str, str]:
    """Command name -> worker id, once ``count`` commands of the job are claimed and not finished."""
    held = {
        name: claim.worker_id
        for name, claim in control_plane.claims(execution_id).items()
        if claim.status in ("CLAIMED", "RUNNING") and claim.worker_id
    }
    return held if len(held) >= count else {}


def test_worker_pods_are_admitted_under_pod_security_restricted(
    cluster: Cluster, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    require_kubelets(cluster)
    assert cluster.namespace_labels().get("pod-security.kubernetes.io/enforce") == "restricted"
    # The level is enforced, not just labelled: a pod asking for root's powers is refused at admission.
    privileged: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": unique_name("e2e-privileged")},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": f"{settings.worker_image_repository}:{settings.worker_image_tag}",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    refusal = cluster.admission_refusal(privileged)
    assert refusal is not None, "a privileged pod was admitted"
    assert "violates PodSecurity" in refusal, refusal

    name = unique_name("e2e-psa")
    make_pool(pool_manifest(name, settings, replicas=1))

    pod = one_ready_pod(cluster, settings, name)
    assert pod["status"]["phase"] == "Running"
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"], status
    assert status["restartCount"] == 0, f"the worker container restarted: {status}"


def test_the_worker_root_filesystem_is_read_only_and_its_scratch_space_writable(
    cluster: Cluster, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    require_kubelets(cluster)
    name = unique_name("e2e-rofs")
    make_pool(pool_manifest(name, settings, replicas=1))
    pod = one_ready_pod(cluster, settings, name)["metadata"]["name"]

    write = "import sys; open(sys.argv[1], 'w').write('x'); print('wrote', sys.argv[1])"
    code, output = cluster.exec(pod, ["python", "-c", write, "/opt/probe"])
    assert code != 0, f"the root filesystem took a write: {output}"
    assert "Read-only file system" in output, output
    # The pod's own emptyDir mounts are where the worker may write (its TMPDIR and /dev/shm).
    for path in ("/tmp/probe", "/dev/shm/probe"):
        code, output = cluster.exec(pod, ["python", "-c", write, path])
        assert code == 0, f"{path}: {output}"


def test_a_deleted_pod_finishes_the_commands_it_holds_within_its_grace_period(
    cluster: Cluster, control_plane: ControlPlane, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    require_kubelets(cluster)
    name = unique_name("e2e-drain")
    # terminationGracePeriodSeconds 30 (pool_manifest): the worker gets 20 s to drain (the operator keeps
    # a 10 s margin), so two 8 s commands in flight finish before the kubelet would kill it.
    make_pool(pool_manifest(name, settings, replicas=1, max_concurrent=2))
    pod = one_ready_pod(cluster, settings, name)["metadata"]["name"]

    execution_id = control_plane.submit(sleep_job(commands=2, seconds=8, prefix="drain"))
    held = wait_for(
        "both commands to be claimed by the pod's worker",
        lambda: running_claims(control_plane, execution_id, 2),
        timeout=settings.timeout_seconds,
        poll=0.5,
    )
    assert len(set(held.values())) == 1, f"one pod, one worker: {held}"
    deleted_at = time.monotonic()
    cluster.delete_pod(pod)

    view = wait_for(
        f"job {execution_id} to finish",
        lambda: found if finished(found := control_plane.job(execution_id)) else None,
        timeout=settings.timeout_seconds,
        poll=0.5,
    )
    drained_in = time.monotonic() - deleted_at
    assert all(command.state == "done" for command in view.commands.values()), view.commands
    claims = control_plane.claims(execution_id)
    # Finished by the worker that held them, on the first claim: not redelivered to the replacement pod
    # after a kill (that would take the 15 s claim lease and show attempt 2 and another worker).
    for command, worker in held.items():
        assert claims[command].status == "COMPLETED"
        assert (claims[command].worker_id, claims[command].attempt) == (worker, 1), claims[command]
    assert drained_in < 30, f"the commands finished {drained_in:.0f} s after the deletion: past the grace period"


def test_a_pool_with_every_slot_busy_stays_ready(
    cluster: Cluster, control_plane: ControlPlane, settings: E2ESettings, make_pool: PoolFactory
) -> None:
    require_kubelets(cluster)
    name = unique_name("e2e-busy")
    manifest = pool_manifest(name, settings, replicas=1, max_concurrent=2)
    # A fast readiness probe: an unready answer would show within 2 failures x 2 s.
    probe = {"periodSeconds": 2, "failureThreshold": 2, "timeoutSeconds": 1, "initialDelaySeconds": 1}
    manifest["spec"]["probes"] = {"readiness": probe}
    NoetlWorkerPool.model_validate(manifest)
    make_pool(manifest)
    pod = one_ready_pod(cluster, settings, name)
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["readinessProbe"]["periodSeconds"] == probe["periodSeconds"]

    # Four 10 s commands on two slots: both slots busy for about 20 s.
    execution_id = control_plane.submit(sleep_job(commands=4, seconds=10, prefix="busy"))
    wait_for(
        "both slots to be busy",
        lambda: running_claims(control_plane, execution_id, 2),
        timeout=settings.timeout_seconds,
        poll=0.5,
    )
    unready: list[str] = []
    busy_until = time.monotonic() + 15  # well past 2 x 2 s probe failures
    while time.monotonic() < busy_until:
        pods = cluster.pods(worker_selector(name))
        if not pods or not all(ready(found) for found in pods):
            unready.append(f"{time.monotonic() - busy_until + 15:.0f} s into the busy window: {ready_reasons(pods)}")
        time.sleep(1)
    assert len(running_claims(control_plane, execution_id, 2)) >= 2, "the slots were not busy the whole time"
    assert not unready, "the busy pool left its Service (readiness failed):\n" + "\n".join(unready[:3])
    view = wait_for(
        f"job {execution_id} to finish",
        lambda: found if finished(found := control_plane.job(execution_id)) else None,
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
    )
    assert all(command.state == "done" for command in view.commands.values()), view.commands
