"""The Kubernetes side of the e2e suite: a `Cluster` protocol and its kubeconfig implementation.

`KubeconfigCluster` works against any API server a kubeconfig reaches — kind, a real cluster, or the
envtest API server. A backend is a context manager that yields a `Target`: the cluster plus the settings
as the backend resolved them (a backend that starts the control plane itself fills in its URLs).
Backends live in `BACKENDS` and are selected by ``NOETL_E2E_BACKEND``: ``kubeconfig`` (kind or any
cluster), ``envtest`` (a local API server whose pods are local `noetl-worker` processes, see
e2e/harness/envtest.py), ``docker`` (the same local API server, with the operator and the worker pods
as containers of the built images), or ``auto`` (the kubeconfig if one is set, else docker where a
daemon answers and the images are built, else envtest). The tests never see the difference.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL
from noetl_operator.builders.meta import LABEL_POOL
from noetl_operator.spec import API_GROUP, API_VERSION

from e2e.harness.settings import E2ESettings

__all__ = ["BACKENDS", "BackendUnavailable", "Cluster", "KubeconfigCluster", "Manifest", "Target", "connect"]

Manifest = dict[str, Any]
PLURAL = "noetlworkerpools"


class Cluster(Protocol):
    """What the assertions need from Kubernetes. Objects are plain JSON-shaped dicts (camelCase keys)."""

    namespace: str

    def apply_pool(self, manifest: Manifest) -> None:
        """Create the NoetlWorkerPool, or replace its spec if it exists."""

    def pool(self, name: str) -> Manifest | None:
        """The pool as the API server has it, status included; None once it is gone."""

    def delete_pool(self, name: str) -> None:
        """Request deletion (the operator's finalizer runs before the object disappears)."""

    def deployment(self, name: str) -> Manifest | None:
        """A Deployment in the namespace, or None."""

    def pods(self, selector: dict[str, str]) -> list[Manifest]:
        """Pods matching ``selector`` that are not terminating."""

    def kill_pod(self, name: str) -> None:
        """Delete a pod with no grace period: the worker gets no chance to drain."""

    def children(self, pool: str) -> list[str]:
        """`Kind/name` of every object still labelled as belonging to ``pool``."""

    def serves(self, group_version: str) -> bool:
        """Whether the API server serves ``group/version`` (e.g. ``keda.sh/v1alpha1``) right now."""

    def runs_kubelets(self) -> bool:
        """Whether a Ready Node (a kubelet) runs the pods, rather than a stand-in for one."""

    def namespace_labels(self) -> dict[str, str]:
        """The labels of the namespace under test (Pod Security admission reads them)."""

    def admission_refusal(self, pod: Manifest) -> str | None:
        """Create ``pod`` as a server-side dry run: the API server's refusal message, or None if admitted."""

    def delete_pod(self, name: str) -> None:
        """Delete a pod with its own grace period: the kubelet sends SIGTERM and waits that long."""

    def exec(self, pod: str, argv: list[str]) -> tuple[int, str]:
        """Run ``argv`` in the pod's only container; its exit status and its output (stdout and stderr)."""


class KubeconfigCluster:
    """`Cluster` over the Kubernetes API, reached through a kubeconfig."""

    def __init__(self, api: Any, namespace: str) -> None:
        self.namespace = namespace
        self._api = api
        self._core = client.CoreV1Api(api)
        self._apps = client.AppsV1Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._policy = client.PolicyV1Api(api)

    def _plain(self, obj: Any) -> Manifest:
        result: Manifest = self._api.sanitize_for_serialization(obj)
        return result

    def apply_pool(self, manifest: Manifest) -> None:
        body = {**manifest, "metadata": {**manifest["metadata"], "namespace": self.namespace}}
        try:
            self._custom.create_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, body)
        except ApiException as error:
            if error.status != 409:
                raise
            self._custom.patch_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, PLURAL, manifest["metadata"]["name"], {"spec": body["spec"]}
            )

    def pool(self, name: str) -> Manifest | None:
        try:
            found = self._custom.get_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        assert isinstance(found, dict)
        return found

    def delete_pool(self, name: str) -> None:
        try:
            self._custom.delete_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, name)
        except ApiException as error:
            if error.status != 404:
                raise

    def deployment(self, name: str) -> Manifest | None:
        try:
            return self._plain(self._apps.read_namespaced_deployment(name, self.namespace))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def pods(self, selector: dict[str, str]) -> list[Manifest]:
        label_selector = ",".join(f"{key}={value}" for key, value in selector.items())
        listed = self._core.list_namespaced_pod(self.namespace, label_selector=label_selector)
        pods = [self._plain(pod) for pod in listed.items]
        return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]

    def kill_pod(self, name: str) -> None:
        self._core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=0)

    def children(self, pool: str) -> list[str]:
        selector = f"{LABEL_POOL}={pool}"
        listings: dict[str, Callable[[], Any]] = {
            "Deployment": lambda: self._apps.list_namespaced_deployment(self.namespace, label_selector=selector),
            "Service": lambda: self._core.list_namespaced_service(self.namespace, label_selector=selector),
            "PodDisruptionBudget": lambda: self._policy.list_namespaced_pod_disruption_budget(
                self.namespace, label_selector=selector
            ),
            "ServiceAccount": lambda: self._core.list_namespaced_service_account(
                self.namespace, label_selector=selector
            ),
            "ScaledObject": lambda: self._custom.list_namespaced_custom_object(
                "keda.sh", "v1alpha1", self.namespace, "scaledobjects", label_selector=selector
            ),
        }
        remaining: list[str] = []
        for kind, listing in listings.items():
            try:
                listed = self._plain(listing())
            except ApiException as error:
                if error.status == 404:
                    continue  # the kind is not served (KEDA not installed): nothing of it can remain
                raise
            remaining += [f"{kind}/{item['metadata']['name']}" for item in listed.get("items") or []]
        return remaining

    def serves(self, group_version: str) -> bool:
        group, _, version = group_version.rpartition("/")
        try:
            found = client.ApisApi(self._api).get_api_versions()
        except ApiException:
            return False
        for served in found.groups or []:
            if served.name == group:
                return any(v.version == version for v in served.versions or [])
        return False

    def runs_kubelets(self) -> bool:
        for node in self._core.list_node().items:
            conditions = (node.status.conditions if node.status is not None else None) or []
            if any(c.type == "Ready" and c.status == "True" for c in conditions):
                return True
        return False

    def namespace_labels(self) -> dict[str, str]:
        metadata = self._core.read_namespace(self.namespace).metadata
        labels: dict[str, str] = (metadata.labels if metadata is not None else None) or {}
        return labels

    def admission_refusal(self, pod: Manifest) -> str | None:
        try:
            # The client sends a plain dict body as it is; the annotations only name the model class.
            self._core.create_namespaced_pod(self.namespace, pod, dry_run="All")  # type: ignore[arg-type]
        except ApiException as error:
            if error.status in (400, 403, 422):
                message: str = json.loads(error.body or "{}").get("message") or str(error.reason)
                return message
            raise
        return None

    def delete_pod(self, name: str) -> None:
        self._core.delete_namespaced_pod(name, self.namespace)

    def exec(self, pod: str, argv: list[str]) -> tuple[int, str]:
        # The exec subresource is a websocket; the kubernetes package's stream helper speaks it.
        session = stream(
            self._core.connect_get_namespaced_pod_exec,
            pod,
            self.namespace,
            command=argv,
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            _preload_content=False,
        )
        output: list[str] = []
        try:
            while session.is_open():
                session.update(timeout=5)
                output.append(session.read_stdout())
                output.append(session.read_stderr())
            status = session.read_channel(ERROR_CHANNEL)
        finally:
            session.close()
        # The error channel carries a metav1.Status: Success, or Failure with the exit code as a cause.
        parsed = json.loads(status) if status else {}
        if parsed.get("status") == "Success":
            return 0, "".join(output)
        causes = (parsed.get("details") or {}).get("causes") or []
        codes = [int(cause["message"]) for cause in causes if cause.get("reason") == "ExitCode"]
        if not codes:
            raise RuntimeError(f"exec {argv} in {pod}: {parsed.get('message') or parsed}")
        return codes[0], "".join(output)


class BackendUnavailable(RuntimeError):
    """The selected backend cannot run here (no kubeconfig, no envtest assets); the message says what to do."""


@dataclass(frozen=True)
class Target:
    """What a backend yields: the cluster under test and the settings the suite should use against it.

    ``describe`` adds backend-specific state to failure messages (the envtest backend: its local pods).
    """

    cluster: Cluster
    settings: E2ESettings
    describe: Callable[[], str] = lambda: ""


@contextmanager
def kubeconfig_backend(settings: E2ESettings) -> Iterator[Target]:
    """The cluster a kubeconfig points at (kind, or any cluster); the control plane is the user's."""
    if settings.kubeconfig is None:
        raise BackendUnavailable("no cluster configured: set NOETL_E2E_KUBECONFIG (e2e/kind/run.sh does)")
    # The client library ships no annotations for this function.
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(settings.kubeconfig), context=settings.context
    )
    try:
        yield Target(KubeconfigCluster(api, settings.namespace), settings)
    finally:
        api.close()


def envtest_backend(settings: E2ESettings) -> AbstractContextManager[Target]:
    """A local envtest API server with local worker processes as pods (e2e/harness/envtest.py)."""
    # Imported on use: it pulls in the test suite's server launchers, which a kind run does not need.
    from e2e.harness.envtest import local_target  # noqa: PLC0415

    return local_target(settings)


def docker_missing() -> str | None:
    """Why the docker backend cannot run here (no daemon, or the images are not built), else None."""
    from tests.support.containers import IMAGES, docker_unavailable, image_present  # noqa: PLC0415

    missing = docker_unavailable()
    if missing is not None:
        return missing
    absent = [image for key, image in IMAGES.items() if key != "standin" and not image_present(image)]
    return f"{', '.join(absent)} not built: run `make images`" if absent else None


def docker_backend(settings: E2ESettings) -> AbstractContextManager[Target]:
    """The envtest stack with the operator and every worker Pod as containers of the built images."""
    missing = docker_missing()
    if missing is not None:
        raise BackendUnavailable(f"docker backend: {missing}")
    from e2e.harness.envtest import local_target  # noqa: PLC0415
    from tests.support.containers import IMAGES  # noqa: PLC0415

    return local_target(settings, images=IMAGES)


def auto_backend(settings: E2ESettings) -> AbstractContextManager[Target]:
    """The kubeconfig's cluster when one is configured, else docker when it can run here, else envtest."""
    if settings.kubeconfig is not None:
        return kubeconfig_backend(settings)
    return docker_backend(settings) if docker_missing() is None else envtest_backend(settings)


BACKENDS: dict[str, Callable[[E2ESettings], AbstractContextManager[Target]]] = {
    "auto": auto_backend,
    "docker": docker_backend,
    "envtest": envtest_backend,
    "kubeconfig": kubeconfig_backend,
}


def connect(settings: E2ESettings) -> AbstractContextManager[Target]:
    """The configured backend's target; a clear error names the backends that exist.

    Raises:
        BackendUnavailable: the backend cannot run on this machine (the message says what is missing).
        ValueError: ``settings.backend`` names no backend.
    """
    try:
        backend = BACKENDS[settings.backend]
    except KeyError:
        raise ValueError(
            f"NOETL_E2E_BACKEND={settings.backend!r} is not a known backend (known: {', '.join(sorted(BACKENDS))})"
        ) from None
    return backend(settings)
