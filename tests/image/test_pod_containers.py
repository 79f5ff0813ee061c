"""The pod runner's container launcher: worker Pods on envtest run as containers of their image, as a kubelet
would run them (the e2e harness's ``docker`` backend stands on this).

A Deployment of ``noetl-worker:dev`` with the Pod spec the operator writes (metrics port, /readyz and
/healthz probes, grace period): the container becomes Ready through its probe on the port the runner
moved it to, deleting the Pod sends the container SIGTERM (it drains and exits 0 within the grace period),
and a container that exits is restarted and counted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from tests.support.containers import Container, container_launcher
from tests.support.envtest import EnvtestCluster, require_assets, start_envtest
from tests.support.nats import NatsServer
from tests.support.podrunner import PodRunner
from tests.support.standin import StandinProcess, running_standin

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def cluster(images: dict[str, str]) -> Iterator[EnvtestCluster]:
    with start_envtest(require_assets()) as started:
        yield started


@pytest.fixture
def kube(cluster: EnvtestCluster) -> Iterator[kubernetes.client.ApiClient]:
    with cluster.api_client() as api:
        yield api


@pytest.fixture
def namespace(kube: kubernetes.client.ApiClient) -> str:
    name = f"img-{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(kube)
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name)))
    eventually("the default ServiceAccount", lambda: core.list_namespaced_service_account(name).items)
    return name


@pytest.fixture
def standin(nats_server: NatsServer, names: dict[str, str]) -> Iterator[StandinProcess]:
    with running_standin(
        nats_url=nats_server.url, nats_stream=names["NATS_STREAM"], nats_subject=names["NATS_SUBJECT"]
    ) as process:
        yield process


@pytest.fixture
def runner(kube: kubernetes.client.ApiClient, namespace: str, tmp_path: Path) -> Iterator[PodRunner]:
    with PodRunner(kube, namespace, "runner=yes", container_launcher(), tmp_path / "logs") as running:
        yield running


def eventually(what: str, probe: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def worker_deployment(name: str, image: str, env: dict[str, str]) -> Any:
    labels = {"app": name, "runner": "yes"}
    probe = {"periodSeconds": 1, "failureThreshold": 3}
    container = {
        "name": "worker",
        "image": image,
        "ports": [{"name": "metrics", "containerPort": 9090}],
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "metrics"}, **probe},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "initialDelaySeconds": 30, **probe},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 20},
            },
        },
    }


def pods(kube: kubernetes.client.ApiClient, namespace: str, app: str) -> list[dict[str, Any]]:
    listed = kubernetes.client.CoreV1Api(kube).list_namespaced_pod(namespace, label_selector=f"app={app}")
    return [kube.sanitize_for_serialization(p) for p in listed.items]  # type: ignore[no-untyped-call]


def running_containers(pod: str) -> list[str]:
    return [n for n in Container.names(f"noetl-pod-{pod}-") if Container(n).state()["status"] == "running"]


def ready(pod: dict[str, Any]) -> bool:
    return any(c.get("ready") for c in (pod.get("status") or {}).get("containerStatuses") or [])


def test_a_worker_pod_is_a_ready_container_that_drains_on_deletion(
    images: dict[str, str],
    kube: kubernetes.client.ApiClient,
    namespace: str,
    runner: PodRunner,
    nats_server: NatsServer,
    standin: StandinProcess,
    names: dict[str, str],
) -> None:
    env = {"NATS_URL": nats_server.url, "NOETL_SERVER_URL": standin.url, **names}
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, worker_deployment("drain", images["worker"], env)
    )
    (pod,) = eventually("a Ready worker pod", lambda: [p for p in pods(kube, namespace, "drain") if ready(p)])
    name = pod["metadata"]["name"]
    (container_name,) = eventually("its running container", lambda: running_containers(name))
    container = Container(container_name)
    assert container.proc_status()["Uid"].split()[0] == "65532"

    started = time.monotonic()
    kubernetes.client.CoreV1Api(kube).delete_namespaced_pod(name, namespace)
    eventually("the container to stop", lambda: container.state()["status"] != "running", timeout=30)
    assert time.monotonic() - started < 20, "stopped by SIGKILL at the end of the grace period, not by draining"
    assert "drain requested" in runner.log_tail(name, 200)
    eventually(
        "a replacement pod", lambda: [p for p in pods(kube, namespace, "drain") if p["metadata"]["name"] != name]
    )


def test_a_container_that_exits_is_restarted_and_counted(
    images: dict[str, str], kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner
) -> None:
    # A setting the worker rejects: it says so in one line and exits non-zero, as in a crash-looping Pod.
    env = {"NATS_URL": "nats://127.0.0.1:1", "NOETL_SERVER_URL": "http://127.0.0.1:1", "WORKER_MAX_CONCURRENT": "zero"}
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, worker_deployment("crashy", images["worker"], env)
    )

    def restarted_twice() -> dict[str, Any] | None:
        for pod in pods(kube, namespace, "crashy"):
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                if status.get("restartCount", 0) >= 2:
                    return dict(status)
        return None

    status = eventually("two restarts", restarted_twice)
    assert status["lastState"]["terminated"]["exitCode"] != 0
    (pod,) = pods(kube, namespace, "crashy")
    log = runner.log_tail(pod["metadata"]["name"], 50)
    assert "WORKER_MAX_CONCURRENT" in log
    assert "Traceback" not in log
