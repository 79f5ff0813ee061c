"""Real Argo CD syncing the install and pools from git, judging pools with our health check.

One stack for the module (tests/argocd/gitops.py): the Application of docs/deploy.md syncs a loopback
git repository holding the kind overlay and pools. The first test is the initial sync; each later flow
adds its own pool to git and leaves the Application Synced and Healthy. Every test prints what Argo CD
showed, state by state (``pytest -rP`` shows it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from e2e.harness.pools import condition
from tests.argocd.gitops import APP, GitOps, pool_health, running_gitops, synced_and_healthy
from tests.support.envtest import require_assets

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def gitops(argocd_assets: Path) -> Iterator[GitOps]:
    with running_gitops(require_assets(), argocd_assets) as stack:
        yield stack


@pytest.fixture
def timeline(gitops: GitOps) -> Iterator[None]:
    """Print what Argo CD showed during the test (pytest shows it on failure, or with -rP)."""
    start = len(gitops.timeline)
    yield
    print("\n".join(gitops.timeline[start:]))


def _created(obj: Any) -> datetime:
    stamp = obj.metadata.creation_timestamp if hasattr(obj, "metadata") else obj["metadata"]["creationTimestamp"]
    return stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _pool_is(name: str, status: str, message: str | None = None) -> Any:
    def probe(app: dict[str, Any]) -> bool:
        health = pool_health(app, name)
        return health is not None and health[0] == status and (message is None or health[1] == message)

    return probe


def test_the_application_syncs_the_install_then_the_pool(gitops: GitOps, timeline: None) -> None:
    app = gitops.wait("the first sync: Synced and Healthy", synced_and_healthy, timeout=300)

    pool = gitops.pool("shared")
    assert pool is not None
    ready = condition(pool, "Ready")
    assert ready is not None
    assert ready["status"] == "True", "Argo CD said Healthy before the operator said Ready"
    assert pool["status"]["observedGeneration"] == pool["metadata"]["generation"]
    assert pool_health(app, "shared") == ("Healthy", "the pool is ready")

    # Sync waves: the CRD (-2) exists before the operator (0), whose Deployment was Available (the
    # operator process answered its probe) before the pool (1) was created.
    crd = kubernetes.client.ApiextensionsV1Api(gitops.api).read_custom_resource_definition("noetlworkerpools.noetl.io")
    operator = kubernetes.client.AppsV1Api(gitops.api).read_namespaced_deployment("noetl-operator", "noetl-system")
    available = next(c for c in operator.status.conditions if c.type == "Available")
    assert available.status == "True"
    assert _created(crd) < _created(operator) < _created(pool)
    assert available.last_transition_time <= _created(pool), "the pool was created before the operator was up"
    synced = {(r["kind"], r["name"]) for r in app["status"]["operationState"]["syncResult"]["resources"]}
    assert {("CustomResourceDefinition", "noetlworkerpools.noetl.io"), ("NoetlWorkerPool", "shared")} <= synced
    waves = {(r["kind"], r["name"]): r.get("syncWave", 0) for r in app["status"]["resources"]}
    assert waves[("CustomResourceDefinition", "noetlworkerpools.noetl.io")] == -2
    assert waves[("Deployment", "noetl-operator")] == 0
    assert waves[("NoetlWorkerPool", "shared")] == 1


def test_a_bad_secret_reference_is_degraded_until_fixed_in_git(gitops: GitOps, timeline: None) -> None:
    gitops.wait("the stack to be in sync", synced_and_healthy)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "noetl-worker-credentials"},
        "type": "Opaque",
        "stringData": {"DUFFEL_API_KEY": "from-git"},
    }
    typo = gitops.pool_manifest("keyed", keychain={"secretRefs": ["noetl-worker-credentails"]})
    gitops.write_pools("keyed", secret, typo)
    gitops.push("pool keyed, referencing a Secret by a misspelt name")

    # The operator's Degraded condition, word for word, as our health check passes it on.
    expected = "SecretsResolved: Secret noetl/noetl-worker-credentails not found"
    app = gitops.wait("the pool to be Degraded", _pool_is("keyed", "Degraded", expected))
    assert app["status"]["health"]["status"] == "Degraded"

    fixed = gitops.pool_manifest("keyed", keychain={"secretRefs": ["noetl-worker-credentials"]})
    gitops.write_pools("keyed", secret, fixed)
    gitops.push("pool keyed: fix the Secret name")
    app = gitops.wait(
        "the fixed pool to be Healthy", lambda a: synced_and_healthy(a) and _pool_is("keyed", "Healthy")(a)
    )
    pool = gitops.pool("keyed")
    assert pool is not None
    assert (condition(pool, "SecretsResolved") or {}).get("status") == "True"


def test_a_hand_edit_is_out_of_sync_until_self_heal_puts_git_back(gitops: GitOps, timeline: None) -> None:
    gitops.wait("the stack to be in sync", synced_and_healthy)
    gitops.write_pools("drifting", gitops.pool_manifest("drifting", maxConcurrent=2))
    gitops.push("pool drifting")
    gitops.wait("pool drifting Healthy", lambda a: synced_and_healthy(a) and _pool_is("drifting", "Healthy")(a))

    gitops.argocd.patch_application(APP, {"spec": {"syncPolicy": {"automated": {"selfHeal": False}}}})
    gitops.note("Application: selfHeal off")
    custom = kubernetes.client.CustomObjectsApi(gitops.api)
    custom.patch_namespaced_custom_object(
        "noetl.io", "v1alpha1", "noetl", "noetlworkerpools", "drifting", {"spec": {"maxConcurrent": 5}}
    )
    gitops.note("kubectl edit: drifting maxConcurrent 2 -> 5")
    gitops.wait("OutOfSync", lambda a: a["status"]["sync"]["status"] == "OutOfSync")
    # Without self-heal Argo CD only reports the drift: well past the self-heal delay, the edit stays.
    time.sleep(8)
    assert gitops.app()["status"]["sync"]["status"] == "OutOfSync"
    assert gitops.pool("drifting")["spec"]["maxConcurrent"] == 5  # type: ignore[index]

    gitops.argocd.patch_application(APP, {"spec": {"syncPolicy": {"automated": {"selfHeal": True}}}})
    gitops.note("Application: selfHeal on")
    gitops.wait("self-heal back to git", lambda a: synced_and_healthy(a) and _pool_is("drifting", "Healthy")(a))
    pool = gitops.pool("drifting")
    assert pool is not None
    assert pool["spec"]["maxConcurrent"] == 2
    ready = condition(pool, "Ready")
    assert ready is not None
    assert ready["observedGeneration"] == pool["metadata"]["generation"]


def test_deleting_a_pool_from_git_prunes_it_through_the_finalizer(gitops: GitOps, timeline: None) -> None:
    gitops.wait("the stack to be in sync", synced_and_healthy)
    gitops.write_pools("leaving", gitops.pool_manifest("leaving"))
    gitops.push("pool leaving")
    gitops.wait("pool leaving Healthy", lambda a: synced_and_healthy(a) and _pool_is("leaving", "Healthy")(a))
    pool = gitops.pool("leaving")
    assert pool is not None
    assert pool["metadata"].get("finalizers"), "the operator put no finalizer on the pool"
    apps = kubernetes.client.AppsV1Api(gitops.api)
    assert apps.list_namespaced_deployment("noetl", label_selector="noetl.io/pool=leaving").items

    gitops.remove_pools("leaving")
    gitops.push("remove pool leaving")
    app = gitops.wait(
        "the prune to finish", lambda a: synced_and_healthy(a) and pool_health(a, "leaving") is None, timeout=300
    )
    assert gitops.pool("leaving") is None, "the pool is still there (finalizer not completed)"
    pruned = [r for r in app["status"]["operationState"]["syncResult"]["resources"] if r["name"] == "leaving"]
    assert pruned
    assert pruned[0]["status"] == "Pruned"
    assert not apps.list_namespaced_deployment("noetl", label_selector="noetl.io/pool=leaving").items
