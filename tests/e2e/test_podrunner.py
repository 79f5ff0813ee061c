"""The pod runner plays a node for envtest: Pods the real controller manager creates run as local processes.

Each test runs a Deployment (or a Pod) whose container is a tiny Python program: it records its
environment, serves a readiness endpoint, and notes the signals it gets, so every kubelet duty the
runner takes on — env resolution, status, readiness, restarts, graceful and forced deletion — is
observed from both sides: the API server's objects and the process itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from tests.support.nats import free_port
from tests.support.podrunner import NODE_NAME, ContainerStart, Launch, PodRunner

pytestmark = pytest.mark.envtest

# The container: writes its environment to $OUT/<pod>.env.json, answers GET /ready on $PORT (and /healthz
# unless $OUT/<pod>.sick exists; a restart cures it), appends each SIGTERM to $OUT/<pod>.signals (then
# exits, unless IGNORE_TERM), and exits with $CRASH_ONCE the first time.
PROGRAM = r"""
import http.server, json, os, pathlib, signal, sys, threading
out = pathlib.Path(os.environ["OUT"]); pod = os.environ["POD"]
(out / f"{pod}.env.json").write_text(json.dumps(dict(os.environ)))
sick = out / f"{pod}.sick"; sick.unlink(missing_ok=True)
crashed = out / f"{pod}.crashed"
if os.environ.get("CRASH_ONCE") and not crashed.exists():
    crashed.write_text("x"); sys.exit(int(os.environ["CRASH_ONCE"]))
def term(*_):
    with (out / f"{pod}.signals").open("a") as f: f.write("TERM\n")
    if not os.environ.get("IGNORE_TERM"): os._exit(0)
signal.signal(signal.SIGTERM, term)
class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/ready" or (self.path == "/healthz" and not sick.exists())
        self.send_response(200 if ok else 500); self.end_headers()
    def log_message(self, *_): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Ready).serve_forever()
"""
CONTAINER_PORT = 8080


def program_launcher(out: Path) -> Callable[[ContainerStart], Launch]:
    def launch(start: ContainerStart) -> Launch:
        port = free_port()
        env = {**start.env, "OUT": str(out), "POD": start.pod["metadata"]["name"], "PORT": str(port)}
        # A container whose entrypoint does not exist: the kubelet's StartError case.
        binary = "/nonexistent/entrypoint" if "MISSING_ENTRYPOINT" in env else sys.executable
        return Launch(argv=[binary, "-c", PROGRAM], env=env, ports={CONTAINER_PORT: port})

    return launch


def container(**extra: Any) -> dict[str, Any]:
    return {
        "name": "app",
        "image": "example.invalid/app:1",
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1},
        **extra,
    }


def deployment(name: str, replicas: int, **container_extra: Any) -> dict[str, Any]:
    labels = {"app": name, "runner": "yes"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container(**container_extra)], "terminationGracePeriodSeconds": 5},
            },
        },
    }


def eventually(what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def runner(kube: kubernetes.client.ApiClient, namespace: str, out: Path, tmp_path: Path) -> Iterator[PodRunner]:
    with PodRunner(kube, namespace, "runner=yes", program_launcher(out), tmp_path / "logs") as running:
        yield running


def pods(kube: kubernetes.client.ApiClient, namespace: str, app: str) -> list[dict[str, Any]]:
    listed = kubernetes.client.CoreV1Api(kube).list_namespaced_pod(namespace, label_selector=f"app={app}")
    return [kube.sanitize_for_serialization(p) for p in listed.items]


def available(kube: kubernetes.client.ApiClient, namespace: str, name: str, replicas: int) -> bool:
    status = kubernetes.client.AppsV1Api(kube).read_namespaced_deployment(name, namespace).status
    return status.available_replicas == replicas and status.replicas == replicas


def test_a_deployment_gets_running_ready_pods_and_becomes_available(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner
) -> None:
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(namespace, deployment("web", 2))

    eventually("the Deployment to be Available with 2 replicas", lambda: available(kube, namespace, "web", 2))

    listed = pods(kube, namespace, "web")
    assert sorted(runner.running()) == sorted(p["metadata"]["name"] for p in listed)
    for pod in listed:
        assert pod["spec"]["nodeName"] == NODE_NAME
        status = pod["status"]
        assert (status["phase"], status["podIP"]) == ("Running", "127.0.0.1")
        (container_status,) = status["containerStatuses"]
        assert container_status["ready"] is True
        assert "running" in container_status["state"]
        assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


def test_a_pod_is_ready_only_while_its_readiness_probe_answers(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner
) -> None:
    probe = {"httpGet": {"path": "/not-ready", "port": "http"}, "periodSeconds": 1}
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, deployment("cold", 1, readinessProbe=probe)
    )
    eventually("a running process", runner.running)
    time.sleep(2)  # several probe periods

    (pod,) = pods(kube, namespace, "cold")
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["containerStatuses"][0]["ready"] is False
    assert not kubernetes.client.AppsV1Api(kube).read_namespaced_deployment("cold", namespace).status.available_replicas


def test_the_environment_is_resolved_as_the_kubelet_does(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner, out: Path
) -> None:
    core = kubernetes.client.CoreV1Api(kube)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "creds"}, "stringData": {"TOKEN": "s3cret"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "cfg"}, "data": {"MODE": "fast", "N": "3"}})
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "APP_LABEL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "TOKEN"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
        {"name": "ABSENT", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "x", "optional": True}}},
        {"name": "GREETING", "value": "hello $(POD_NAME) $$(POD_NAME) $(UNDEFINED)"},
        {"name": "CFG_N", "value": "overridden by env, which comes after envFrom"},
    ]
    env_from = [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"secretRef": {"name": "creds"}}]
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, deployment("envy", 1, env=env, envFrom=env_from)
    )

    (name,) = eventually("a running process", runner.running)
    seen = json.loads(
        eventually(
            "the environment dump",
            lambda: (out / f"{name}.env.json").exists() and (out / f"{name}.env.json").read_text(),
        )
    )

    assert seen["POD_NAME"] == name
    assert seen["POD_NAMESPACE"] == namespace
    assert seen["APP_LABEL"] == "envy"
    assert seen["API_TOKEN"] == seen["TOKEN"] == "s3cret"
    assert seen["MODE"] == seen["CFG_MODE"] == "fast"
    assert "ABSENT" not in seen
    assert seen["GREETING"] == f"hello {name} $(POD_NAME) $(UNDEFINED)"
    assert seen["CFG_N"] == "overridden by env, which comes after envFrom"


def test_deleting_a_pod_sends_sigterm_and_the_replicaset_replaces_it(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner, out: Path
) -> None:
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(namespace, deployment("graceful", 1))
    eventually("an available replica", lambda: available(kube, namespace, "graceful", 1))
    (victim,) = runner.running()

    kubernetes.client.CoreV1Api(kube).delete_namespaced_pod(victim, namespace)

    eventually("the process to get SIGTERM", (out / f"{victim}.signals").exists)
    assert (out / f"{victim}.signals").read_text() == "TERM\n"
    eventually(
        "the pod to be gone and replaced",
        lambda: (
            victim not in {p["metadata"]["name"] for p in pods(kube, namespace, "graceful")}
            and available(kube, namespace, "graceful", 1)
        ),
    )
    assert victim not in runner.running()


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner, out: Path
) -> None:
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, deployment("stubborn", 1, env=[{"name": "IGNORE_TERM", "value": "1"}])
    )
    eventually("an available replica", lambda: available(kube, namespace, "stubborn", 1))
    (victim,) = runner.running()

    started = time.monotonic()
    kubernetes.client.CoreV1Api(kube).delete_namespaced_pod(victim, namespace, grace_period_seconds=2)
    eventually("the process to be killed", lambda: victim not in runner.running(), timeout=15)
    elapsed = time.monotonic() - started

    assert (out / f"{victim}.signals").read_text() == "TERM\n", "SIGTERM came first"
    assert 1.5 <= elapsed < 6, f"killed after {elapsed:.1f}s for a 2 s grace period"
    eventually(
        "the pod object to be removed",
        lambda: not any(p["metadata"]["name"] == victim for p in pods(kube, namespace, "stubborn")),
    )


def test_a_force_deleted_pod_loses_its_process_at_once(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner, out: Path
) -> None:
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(namespace, deployment("forced", 1))
    eventually("an available replica", lambda: available(kube, namespace, "forced", 1))
    (victim,) = runner.running()

    kubernetes.client.CoreV1Api(kube).delete_namespaced_pod(victim, namespace, grace_period_seconds=0)

    eventually("the process to be gone", lambda: victim not in runner.running(), timeout=5)
    assert not (out / f"{victim}.signals").exists(), "a force-deleted pod gets no SIGTERM"


def test_a_missing_secret_is_a_create_container_config_error_until_it_exists(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner
) -> None:
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "later", "key": "TOKEN"}}}]
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(namespace, deployment("waiting", 1, env=env))

    def waiting_reason() -> dict[str, Any] | None:
        listed = pods(kube, namespace, "waiting")
        statuses = (listed[0].get("status") or {}).get("containerStatuses") if listed else None
        return (statuses[0]["state"].get("waiting") if statuses else None) or None

    waiting = eventually("the pod to report why it cannot start", waiting_reason)
    assert waiting["reason"] == "CreateContainerConfigError"
    assert '"later" not found' in waiting["message"]
    assert not runner.running()

    kubernetes.client.CoreV1Api(kube).create_namespaced_secret(
        namespace, {"metadata": {"name": "later"}, "stringData": {"TOKEN": "now"}}
    )
    eventually("the Deployment to become available", lambda: available(kube, namespace, "waiting", 1))


def test_a_crashed_process_is_restarted_and_counted(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner
) -> None:
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, deployment("crashy", 1, env=[{"name": "CRASH_ONCE", "value": "3"}])
    )

    eventually("the Deployment to become available after a restart", lambda: available(kube, namespace, "crashy", 1))

    (pod,) = pods(kube, namespace, "crashy")
    (status,) = pod["status"]["containerStatuses"]
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 3


def test_a_container_that_cannot_start_is_reported_without_stopping_the_others(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner
) -> None:
    apps = kubernetes.client.AppsV1Api(kube)
    apps.create_namespaced_deployment(
        namespace, deployment("broken", 1, env=[{"name": "MISSING_ENTRYPOINT", "value": "1"}])
    )
    apps.create_namespaced_deployment(namespace, deployment("fine", 1))

    def waiting() -> dict[str, Any] | None:
        listed = pods(kube, namespace, "broken")
        statuses = (listed[0].get("status") or {}).get("containerStatuses") if listed else None
        return (statuses[0]["state"].get("waiting") if statuses else None) or None

    found = eventually("the broken pod to report why", waiting)
    assert found["reason"] == "RunContainerError"
    assert "/nonexistent/entrypoint" in found["message"]
    eventually("the other Deployment to become available", lambda: available(kube, namespace, "fine", 1))


def test_a_container_failing_its_liveness_probe_is_restarted(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner, out: Path
) -> None:
    liveness = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1, "failureThreshold": 2}
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, deployment("sickly", 1, livenessProbe=liveness)
    )
    eventually("an available replica", lambda: available(kube, namespace, "sickly", 1))
    (name,) = runner.running()
    time.sleep(2)  # healthy probes do nothing
    assert pods(kube, namespace, "sickly")[0]["status"]["containerStatuses"][0]["restartCount"] == 0

    (out / f"{name}.sick").write_text("x")

    def restarted() -> bool:
        (pod,) = pods(kube, namespace, "sickly")
        status = pod["status"]["containerStatuses"][0]
        return bool(status["restartCount"] == 1 and status["ready"])

    eventually("the container to be restarted and ready again", restarted)
    assert (out / f"{name}.signals").read_text() == "TERM\n", "asked to stop before being killed"
    assert list(runner.running()) == [name], "the same pod, a new process"


def test_a_multi_container_pod_is_refused_with_a_reason(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner
) -> None:
    pod = {
        "metadata": {"name": "two", "labels": {"app": "two", "runner": "yes"}},
        "spec": {"containers": [container(), {**container(), "name": "sidecar"}]},
    }
    kubernetes.client.CoreV1Api(kube).create_namespaced_pod(namespace, pod)

    def reason() -> str | None:
        statuses = (pods(kube, namespace, "two")[0].get("status") or {}).get("containerStatuses") or []
        return statuses[0]["state"].get("waiting", {}).get("message") if statuses else None

    assert eventually("the pod to report the refusal", reason) == "the pod runner runs single-container pods only"
    assert not runner.running()


def test_stopping_the_runner_stops_every_process(
    kube: kubernetes.client.ApiClient, namespace: str, out: Path, tmp_path: Path
) -> None:
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(namespace, deployment("short", 2))
    with PodRunner(kube, namespace, "runner=yes", program_launcher(out), tmp_path / "logs") as runner:
        # Ready means the program's SIGTERM handler is installed (it serves only after installing it).
        eventually("two ready replicas", lambda: available(kube, namespace, "short", 2))
        names = list(runner.running())

    assert not runner.running()
    for name in names:
        assert (out / f"{name}.signals").read_text() == "TERM\n", f"{name} was not asked to stop"


def test_pods_of_other_selectors_are_left_alone(
    kube: kubernetes.client.ApiClient, namespace: str, runner: PodRunner
) -> None:
    other = deployment("foreign", 1)
    other["spec"]["selector"]["matchLabels"] = other["spec"]["template"]["metadata"]["labels"] = {"app": "foreign"}
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(namespace, other)
    eventually("the pod to exist", lambda: pods(kube, namespace, "foreign"))
    time.sleep(1)

    (pod,) = pods(kube, namespace, "foreign")
    assert not pod["spec"].get("nodeName")
    assert (pod.get("status") or {}).get("phase") == "Pending"
    assert "containerStatuses" not in pod["status"]
    assert not runner.running()


# A process hosting a runner, as pytest does: it prints the pid of the pod's process once it runs.
HOST = r"""
import sys, time
from pathlib import Path
from tests.support.envtest import client_for_kubeconfig
from tests.support.podrunner import PodRunner
from tests.e2e.test_podrunner import program_launcher
kubeconfig, namespace, out, logs = sys.argv[1:5]
api = client_for_kubeconfig(Path(kubeconfig))
with PodRunner(api, namespace, "runner=yes", program_launcher(Path(out)), Path(logs)) as runner:
    while not runner.running():
        time.sleep(0.1)
    print(*runner.running().values(), flush=True)
    time.sleep(300)
"""


def process_alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting for whoever adopted it to reap it counts as dead."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_killed_host_process_leaves_no_pod_process_behind(
    pod_cluster: Any, kube: kubernetes.client.ApiClient, namespace: str, out: Path, tmp_path: Path
) -> None:
    kubernetes.client.AppsV1Api(kube).create_namespaced_deployment(namespace, deployment("orphan", 1))
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, str(pod_cluster.kubeconfig_path), namespace, str(out), str(tmp_path / "logs")],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        child = int(host.stdout.readline())
        assert process_alive(child)

        host.kill()  # no clean-up code runs: only the kernel's parent-death signal can stop the child
        host.wait(10)

        eventually("the pod's process to die with its host", lambda: not process_alive(child), timeout=10)
    finally:
        host.kill()
