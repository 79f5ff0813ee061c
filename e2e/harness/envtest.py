"""The envtest backend: the whole e2e stack on one machine without containers.

Started in dependency order, stopped in reverse:

1. envtest — real etcd, kube-apiserver (RBAC) and kube-controller-manager (Deployments, ReplicaSets,
   HPA, garbage collection), from ``scripts/envtest-assets``;
2. the CRDs of the shipped install (ours and kopf's peering CRD), and KEDA when the assets include
   it: ``keda-operator`` creates each ScaledObject's HPA and activates Deployments 0 <-> 1, and
   ``keda-adapter`` (KEDA's metrics API server, behind the API server's aggregation layer) serves
   ``external.metrics.k8s.io`` so the real HPA controller scales 1 <-> N on the consumer's lag;
3. a nats-server with JetStream (the product's launcher); KEDA's nats-jetstream scaler reads its
   monitoring port;
4. the stand-in control plane as a subprocess, publishing to that nats-server;
5. the operator as shipped (``noetl-operator run --standalone``, cluster-wide), logged in as its
   ServiceAccount bound to deploy/base/rbac.yaml, so the e2e run also proves its least-privilege RBAC;
6. the pod runner (tests/support/podrunner.py): one local ``noetl-worker`` process per worker Pod the
   controller manager creates, Ready when its ``/readyz`` answers, SIGTERM when the Pod is deleted.

The ``docker`` backend is the same stack with the images instead of this checkout's code: the operator
runs from ``noetl-operator:dev`` and each worker Pod is a hardened container of ``noetl-worker:dev``
(tests/support/containers.py), with the same probes, grace periods and restarts.

Test pools point straight at the local URLs (no in-cluster DNS to rewrite): the resulting settings are
returned in the `Target`. The operator's log and one log per worker pod go to a temporary folder,
removed at the end unless ``NOETL_ENVTEST_KEEP=1``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes.client
import yaml
from kubernetes.client.exceptions import ApiException
from noetl_operator.crdgen import CRD_PATH
from noetl_standin.natsserver import running_nats_server

from e2e.harness.cluster import BackendUnavailable, KubeconfigCluster, Target
from e2e.harness.operatorproc import running_operator
from e2e.harness.settings import E2ESettings
from tests.support.containers import container_launcher, remove_labelled
from tests.support.envtest import EnvtestCluster, EnvtestError, find_assets, start_envtest, start_keda
from tests.support.podrunner import PodRunner, worker_launcher
from tests.support.standin import running_standin

__all__ = ["OPERATOR_ACCOUNT", "STANDIN_SETTINGS", "WORKER_POD_SELECTOR", "local_target"]

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_POD_SELECTOR = "app.kubernetes.io/name=noetl-worker"
OPERATOR_ACCOUNT = ("noetl-system", "noetl-operator")
# The kind manifest's values (e2e/kind/manifests/standin.yaml): a command whose worker died is offered
# again within seconds, not the production minutes.
STANDIN_SETTINGS: dict[str, Any] = {
    "claim_lease_seconds": 15,
    "worker_heartbeat_stale_seconds": 10,
    "republish_delay_seconds": 20,
    "reaper_interval_seconds": 10,
    "log_level": "info",
}


def _established(ext: kubernetes.client.ApiextensionsV1Api, name: str) -> bool:
    status = ext.read_custom_resource_definition(name).status
    conditions = (status.conditions if status is not None else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def _install_crd(cluster: EnvtestCluster, path: Path, timeout: float = 30.0) -> None:
    with cluster.api_client() as api:
        ext = kubernetes.client.ApiextensionsV1Api(api)
        names = []
        for body in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            ext.create_custom_resource_definition(body)
            names.append(body["metadata"]["name"])
        deadline = time.monotonic() + timeout
        for name in names:
            while not _established(ext, name):
                if time.monotonic() > deadline:
                    raise EnvtestError(f"CRD {name} from {path} not Established after {timeout:.0f}s")
                time.sleep(0.1)


def _namespace(core: kubernetes.client.CoreV1Api, name: str, timeout: float = 30.0) -> None:
    """Create ``name`` and wait for its ``default`` ServiceAccount (Pods are refused until it exists)."""
    with contextlib.suppress(ApiException):
        core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name)))
    deadline = time.monotonic() + timeout
    while not core.list_namespaced_service_account(name, field_selector="metadata.name=default").items:
        if time.monotonic() > deadline:
            raise EnvtestError(f"namespace {name} got no default ServiceAccount within {timeout:.0f}s")
        time.sleep(0.1)


def _operator_kubeconfig(cluster: EnvtestCluster) -> Path:
    """The shipped RBAC applied, and a kubeconfig of the operator's ServiceAccount (nothing more granted)."""
    namespace, account = OPERATOR_ACCOUNT
    with cluster.api_client() as api:
        _namespace(kubernetes.client.CoreV1Api(api), namespace)
        rbac = kubernetes.client.RbacAuthorizationV1Api(api)
        for doc in yaml.safe_load_all((REPO_ROOT / "deploy" / "base" / "rbac.yaml").read_text(encoding="utf-8")):
            if doc["kind"] == "ClusterRole":
                rbac.create_cluster_role(doc)
            elif doc["kind"] == "ClusterRoleBinding":
                rbac.create_cluster_role_binding(doc)
    return cluster.service_account_kubeconfig(namespace, account, expiration_seconds=4 * 3600)


def _pool_image(image: str) -> dict[str, str]:
    """The settings that make test pools name ``image`` (never pulled: the daemon has it)."""
    repository, _, tag = image.partition(":")
    return {"worker_image_repository": repository, "worker_image_tag": tag, "worker_image_pull_policy": "Never"}


@contextlib.contextmanager
def local_target(settings: E2ESettings, *, images: Mapping[str, str] | None = None) -> Iterator[Target]:
    """Start the local stack (see the module doc) and yield the cluster with settings pointing at it.

    ``images`` (the ``docker`` backend passes ``noetl-worker:dev`` and ``noetl-operator:dev`` as
    ``{"worker": ..., "operator": ...}``): the operator runs from the operator image, test pools name the
    worker image, and every worker Pod runs as a container of the image its spec names, hardened as the
    Pod's securityContext says — instead of this checkout's code as local processes.

    Raises:
        BackendUnavailable: the envtest assets are not built (the message says how to build them).
        EnvtestError: a component did not come up (the message carries its log tail).
    """
    assets = find_assets(keda=True) or find_assets(keda=False)
    if assets is None:
        raise BackendUnavailable(
            "envtest assets not built: run `scripts/envtest-assets` (needs Go; see docs/testing.md) "
            "or set NOETL_E2E_KUBECONFIG to run against a cluster"
        )
    with contextlib.ExitStack() as stack:
        logs = Path(tempfile.mkdtemp(prefix="noetl-e2e-"))
        if os.environ.get("NOETL_ENVTEST_KEEP") == "1":
            # The envtest launcher's convention: keep everything for a post-mortem.
            stack.callback(print, f"e2e: kept the operator and pod logs in {logs}")
        else:
            stack.callback(shutil.rmtree, logs, ignore_errors=True)
        cluster = stack.enter_context(start_envtest(assets))
        # Both CRDs of the shipped install, as `kubectl apply -k deploy/...` creates them.
        _install_crd(cluster, REPO_ROOT / CRD_PATH)
        _install_crd(cluster, REPO_ROOT / "crds" / "kopf.dev_peerings.yaml")
        if (assets / "keda-operator").exists():
            stack.enter_context(start_keda(cluster, metrics_server=(assets / "keda-adapter").exists()))
        api = stack.enter_context(cluster.api_client())
        _namespace(kubernetes.client.CoreV1Api(api), settings.namespace)

        nats = stack.enter_context(running_nats_server())
        standin = stack.enter_context(running_standin(nats_url=nats.url, **STANDIN_SETTINGS))
        local = settings.model_copy(
            update={
                "kubeconfig": cluster.kubeconfig_path,
                "control_plane_url": standin.url,
                "server_url": standin.url,
                "nats_url": nats.url,
                "nats_monitoring_endpoint": f"127.0.0.1:{nats.monitor_port}",
                **(_pool_image(images["worker"]) if images else {}),
            }
        )
        if images:
            stack.callback(remove_labelled)  # whatever a killed `docker run` client left behind
        operator = stack.enter_context(
            running_operator(
                _operator_kubeconfig(cluster), logs / "operator.log", image=images["operator"] if images else None
            )
        )
        launcher = container_launcher() if images else worker_launcher()
        runner = stack.enter_context(PodRunner(api, settings.namespace, WORKER_POD_SELECTOR, launcher, logs / "pods"))

        def describe() -> str:
            return (
                f"worker pods: {runner.describe()}\n"
                f"operator {'running' if operator.alive() else 'EXITED'}, last log lines:\n{operator.log_tail(15)}"
            )

        yield Target(cluster=KubeconfigCluster(api, settings.namespace), settings=local, describe=describe)
