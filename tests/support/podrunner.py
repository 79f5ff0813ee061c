"""A local stand-in for the kubelet: realise a cluster's Pods as local processes (envtest has no nodes).

On envtest the real controller manager creates ReplicaSets and Pods from a Deployment, but nothing runs
them. :class:`PodRunner` plays the part of one node for the Pods a label selector picks:

* a new Pod is bound to the runner's node name (so deleting it is graceful, as for a scheduled Pod),
  its container's environment is resolved the way the kubelet does it (``value`` with ``$(VAR)``
  expansion, ``fieldRef``, ``secretKeyRef``, ``configMapKeyRef``, ``envFrom``), and a
  :data:`Launcher` turns it into one local process;
* its status is reported as the kubelet would: ``Running`` with ``podIP`` 127.0.0.1, and ``Ready``
  only while the container's HTTP readiness probe answers (no probe: ready once started), so a
  Deployment becomes Available for the same reason it would on a node;
* a process that exits is restarted with back-off (``restartPolicy: Always``), counted in
  ``restartCount``; one whose HTTP liveness probe fails ``failureThreshold`` times in a row is
  restarted (SIGTERM, SIGKILL after the grace period), with the probe's own timing;
* a Pod marked for deletion gets SIGTERM, SIGKILL after its grace period, and is then removed with
  grace 0 (the kubelet's final confirmation); a Pod deleted outright has its process killed at once;
* a Pod whose environment cannot be resolved (missing Secret or key) is reported
  ``CreateContainerConfigError`` naming what is missing, and is retried, as on a node.

Volumes, init containers and resource limits are not realised, and the image only if the launcher
runs it (``container_launcher`` in tests/support/containers.py starts the Pod's image as a real
container; ``worker_launcher`` a local process); a Pod with more than one container is
reported as an error in its status rather than half-run.

    with PodRunner(api, "ns", "app=worker", worker_launcher(), logs_dir) as runner:
        ...  # Deployments in "ns" now get running, Ready pods
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from base64 import b64decode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException

from tests.support.nats import free_port
from tests.support.processes import die_with_parent

__all__ = [
    "ContainerStart",
    "EnvResolutionError",
    "Launch",
    "Launcher",
    "PodRunner",
    "resolve_env",
    "worker_launcher",
]

Manifest = dict[str, Any]

NODE_NAME = "noetl-podrunner"
POD_IP = "127.0.0.1"
# Environment a container would get from its image; everything else comes from the Pod spec.
_HOST_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_FIELD_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


class EnvResolutionError(ValueError):
    """A Pod's environment references something that does not exist (the kubelet's CreateContainerConfigError)."""


@dataclass(frozen=True)
class ContainerStart:
    """What a :data:`Launcher` gets: the Pod, its (only) container and the resolved environment."""

    pod: Manifest
    container: Manifest
    env: Mapping[str, str]


@dataclass(frozen=True)
class Launch:
    """How to run a container locally.

    Attributes:
        argv: the command line.
        env: the complete process environment.
        ports: container port -> the local port the process really listens on (local processes share
            one network namespace, so each gets its own ports); probes are sent there.
        signal: how to deliver a signal to the container when the process is only its client (a
            ``docker run``); None = signal the process group.
    """

    argv: Sequence[str]
    env: Mapping[str, str]
    ports: Mapping[int, int] = field(default_factory=dict)
    signal: Callable[[signal.Signals], None] | None = None


Launcher = Callable[[ContainerStart], Launch]


def worker_launcher(python: str = sys.executable) -> Launcher:
    """Run a worker container as ``python -m noetl_worker.cli run`` with its Pod's environment.

    Every process gets its own metrics/probe port: the Pod asks for ``WORKER_METRICS_BIND=0.0.0.0:<port>``,
    which two local processes cannot both bind.
    """

    def launch(start: ContainerStart) -> Launch:
        env = dict(start.env)
        local = free_port()
        ports = {int(p["containerPort"]): local for p in start.container.get("ports") or []}
        env["WORKER_METRICS_BIND"] = f"127.0.0.1:{local}"
        return Launch(argv=[python, "-m", "noetl_worker.cli", "run"], env=env, ports=ports)

    return launch


# --------------------------------------------------------------------------- environment


def _field_value(pod: Manifest, path: str) -> str:
    metadata = pod.get("metadata") or {}
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": (pod.get("spec") or {}).get("nodeName") or NODE_NAME,
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName"),
        "status.podIP": POD_IP,
        "status.hostIP": POD_IP,
    }
    if path in simple:
        return str(simple[path] or "")
    subscript = _FIELD_SUBSCRIPT.match(path)
    if subscript:
        return str((metadata.get(subscript.group(1)) or {}).get(subscript.group(2), ""))
    raise EnvResolutionError(f"fieldRef {path!r} is not supported by the pod runner")


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names are replaced, ``$$`` escapes, unknown ones stay."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(replace, value)


class _Sources:
    """Secrets and ConfigMaps of one namespace, read once per resolution."""

    def __init__(self, core: kubernetes.client.CoreV1Api, namespace: str) -> None:
        self._core = core
        self._namespace = namespace
        self._cache: dict[tuple[str, str], dict[str, str] | None] = {}

    def data(self, kind: str, name: str) -> dict[str, str] | None:
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = self._read(kind, name)
        return self._cache[key]

    def _read(self, kind: str, name: str) -> dict[str, str] | None:
        try:
            if kind == "Secret":
                secret = self._core.read_namespaced_secret(name, self._namespace)
                return {k: b64decode(v).decode() for k, v in (secret.data or {}).items()}
            config_map = self._core.read_namespaced_config_map(name, self._namespace)
            return dict(config_map.data or {})
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def key(self, kind: str, ref: Manifest) -> str | None:
        name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
        data = self.data(kind, name)
        if data is None:
            if optional:
                return None
            raise EnvResolutionError(f'{kind.lower()} "{name}" not found')
        if key not in data:
            if optional:
                return None
            raise EnvResolutionError(f"couldn't find key {key} in {kind} {self._namespace}/{name}")
        return data[key]


def resolve_env(pod: Manifest, container: Manifest, core: kubernetes.client.CoreV1Api) -> dict[str, str]:
    """The container's environment as the kubelet computes it: ``envFrom`` first, then ``env`` in order.

    Raises:
        EnvResolutionError: a referenced Secret, ConfigMap or key is missing (and not optional), or a
            field the runner cannot provide is referenced; the message names it.
    """
    sources = _Sources(core, pod["metadata"]["namespace"])
    env: dict[str, str] = {}
    for item in container.get("envFrom") or []:
        prefix = item.get("prefix") or ""
        for kind, ref in (("Secret", item.get("secretRef")), ("ConfigMap", item.get("configMapRef"))):
            if ref is None:
                continue
            data = sources.data(kind, ref.get("name", ""))
            if data is None:
                if ref.get("optional"):
                    continue
                raise EnvResolutionError(f'{kind.lower()} "{ref.get("name")}" not found')
            env.update({f"{prefix}{key}": value for key, value in data.items()})
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = _expand(str(item.get("value") or ""), env)
            continue
        source = item["valueFrom"]
        resolved: str | None
        if "fieldRef" in source:
            resolved = _field_value(pod, source["fieldRef"]["fieldPath"])
        elif "secretKeyRef" in source:
            resolved = sources.key("Secret", source["secretKeyRef"])
        elif "configMapKeyRef" in source:
            resolved = sources.key("ConfigMap", source["configMapKeyRef"])
        else:
            raise EnvResolutionError(f"env {name}: valueFrom {sorted(source)} is not supported by the pod runner")
        if resolved is not None:
            env[name] = resolved
    return env


# --------------------------------------------------------------------------- one pod


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _PodState:
    """What the runner knows about one Pod it realises (keyed by the Pod's uid)."""

    namespace: str
    name: str
    uid: str
    container: str
    image: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    readiness: _HttpProbe | None = None
    liveness: _HttpProbe | None = None
    ready: bool = False
    restarts: int = 0
    restart_at: float = 0.0
    started_at: str = ""
    last_exit: int | None = None
    terminating_since: float | None = None
    kill_at: float = 0.0
    unhealthy_kill_at: float | None = None
    reported: str = ""
    signaller: Callable[[signal.Signals], None] | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            if self.signaller is not None:
                self.signaller(sig)
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    def reap(self) -> int | None:
        """Exit code of a process that ended (and forget it), else None."""
        if self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None
        return code


@dataclass
class _HttpProbe:
    """One container's HTTP probe, with the kubelet's consecutive-failure count."""

    url: str
    period: float
    timeout: float
    failure_threshold: int
    next_at: float
    failures: int = 0

    def due(self, now: float) -> bool:
        if now < self.next_at:
            return False
        self.next_at = now + self.period
        return True


def _http_probe(container: Manifest, kind: str, ports: Mapping[int, int], now: float) -> _HttpProbe | None:
    """The container's ``readinessProbe``/``livenessProbe`` aimed at the port its process really listens on."""
    probe = container.get(kind) or {}
    http = probe.get("httpGet")
    if not http:
        return None
    port = http.get("port")
    if isinstance(port, str):
        named = {p.get("name"): int(p["containerPort"]) for p in container.get("ports") or []}
        port = named.get(port, 0)
    local = ports.get(int(port or 0), int(port or 0))
    period = float(probe.get("periodSeconds") or 10)
    delay = float(probe.get("initialDelaySeconds") or 0)
    if kind == "readinessProbe":
        # Readiness is probed from the start and every second at most: tests wait on it, and a node's
        # cadence would only slow them down. Liveness keeps the spec's timing: it kills.
        period, delay = min(period, 1.0), 0.0
    return _HttpProbe(
        url=f"http://127.0.0.1:{local}{http.get('path', '/')}",
        period=period,
        timeout=float(probe.get("timeoutSeconds") or 1),
        failure_threshold=int(probe.get("failureThreshold") or 3),
        next_at=now + delay,
    )


def _probe(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(200 <= response.status < 400)
    except (OSError, urllib.error.URLError):
        return False


# --------------------------------------------------------------------------- the runner


class PodRunner:
    """Realise the Pods of ``namespace`` matching ``label_selector`` as local processes (see the module doc).

    Runs in a background thread between :meth:`start` and :meth:`stop` (or as a context manager).
    """

    def __init__(
        self,
        api: kubernetes.client.ApiClient,
        namespace: str,
        label_selector: str,
        launcher: Launcher,
        logs_dir: Path,
        *,
        poll_seconds: float = 0.25,
        max_backoff_seconds: float = 10.0,
    ) -> None:
        self.namespace = namespace
        self.label_selector = label_selector
        self.logs_dir = logs_dir
        self._api = api
        self._core = kubernetes.client.CoreV1Api(api)
        self._launcher = launcher
        self._poll = poll_seconds
        self._max_backoff = max_backoff_seconds
        self._pods: dict[str, _PodState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._grace = 5.0
        self.errors: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------------------

    def __enter__(self) -> PodRunner:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name=f"podrunner-{self.namespace}", daemon=True)
        self._thread.start()

    def stop(self, grace: float = 5.0) -> None:
        """Stop watching; SIGTERM every process, SIGKILL what is left after ``grace`` seconds."""
        self._grace = grace
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=grace + 30)

    def _shutdown(self) -> None:
        # Runs on the runner's own thread: the processes were forked from it, and their parent-death
        # signal fires when it ends, so they must be stopped gracefully before.
        with self._lock:
            states = list(self._pods.values())
            self._pods.clear()
        for state in states:
            state.signal(signal.SIGTERM)
        deadline = time.monotonic() + self._grace
        for state in states:
            while state.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            state.signal(signal.SIGKILL)
            if state.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    state.process.wait(5)
            state.reap()

    # -- read-outs for tests and diagnostics -----------------------------------------------------------

    def running(self) -> dict[str, int]:
        """Pod name -> pid of every live process."""
        with self._lock:
            return {s.name: s.process.pid for s in self._pods.values() if s.process and s.process.poll() is None}

    def log_tail(self, pod: str, lines: int = 30) -> str:
        """The last lines of a Pod's process output (all its restarts)."""
        path = self.logs_dir / f"{self.namespace}_{pod}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def describe(self) -> str:
        """One line per Pod: process state, readiness, restarts; and recent runner errors."""
        with self._lock:
            rows = [
                f"{s.name}: {'running' if s.alive() else 'stopped'} ready={s.ready} restarts={s.restarts}"
                f"{' terminating' if s.terminating_since is not None else ''}"
                for s in self._pods.values()
            ]
        return "; ".join(rows + [f"error: {e}" for e in self.errors[-5:]]) or "no pods"

    # -- the loop ---------------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync()
            except Exception as error:  # a flaky API call must not end the node; it is retried next round
                self._note(f"sync failed: {error!r}")
            self._stop.wait(self._poll)
        self._shutdown()

    def _note(self, message: str) -> None:
        self.errors.append(message)
        del self.errors[:-50]

    def _sync(self) -> None:
        listed = self._core.list_namespaced_pod(self.namespace, label_selector=self.label_selector)
        plain: list[Manifest] = [self._api.sanitize_for_serialization(p) for p in listed.items]  # type: ignore[no-untyped-call]
        pods = {pod["metadata"]["uid"]: pod for pod in plain}
        with self._lock:
            for uid in list(self._pods):
                if uid not in pods:
                    # Deleted outright (grace 0, or by us): the container dies with no chance to drain.
                    state = self._pods.pop(uid)
                    state.signal(signal.SIGKILL)
                    state.reap()
        for uid, pod in pods.items():
            try:
                self._sync_pod(uid, pod)
            except ApiException as error:
                if error.status not in (404, 409):  # gone or changed meanwhile: the next round sees the truth
                    self._note(f"{pod['metadata']['name']}: {error.status} {error.reason}")
            except Exception as error:  # one bad pod must not stop the others from being served
                self._note(f"{pod['metadata']['name']}: {error!r}")

    def _sync_pod(self, uid: str, pod: Manifest) -> None:
        metadata = pod["metadata"]
        state = self._pods.get(uid)
        if metadata.get("deletionTimestamp"):
            self._terminate(uid, pod, state)
            return
        if state is None:
            containers = pod["spec"].get("containers") or []
            state = _PodState(
                namespace=self.namespace,
                name=metadata["name"],
                uid=uid,
                container=containers[0]["name"] if containers else "",
                image=containers[0].get("image", "") if containers else "",
                log_path=self.logs_dir / f"{self.namespace}_{metadata['name']}.log",
            )
            with self._lock:
                self._pods[uid] = state
            if not pod["spec"].get("nodeName"):
                self._bind(metadata["name"])
            if len(containers) != 1:
                self._report_waiting(state, "RunContainerError", "the pod runner runs single-container pods only")
                return
        if len(pod["spec"].get("containers") or []) != 1:
            return
        code = state.reap()
        if code is not None:
            state.last_exit = code
            state.restarts += 1
            state.ready = False
            state.restart_at = time.monotonic() + min(self._max_backoff, 0.5 * 2 ** (state.restarts - 1))
            self._report_waiting(state, "CrashLoopBackOff", f"exited with code {code}; restarting")
        if state.process is None and time.monotonic() >= state.restart_at:
            self._launch(state, pod)
        if state.process is not None:
            self._check_readiness(state)
            self._check_liveness(state, pod)

    def _bind(self, name: str) -> None:
        # A bound Pod is deleted gracefully (deletionTimestamp, then our confirmation); an unbound one
        # would vanish at once and its worker would never see SIGTERM.
        body = kubernetes.client.V1Binding(
            metadata=kubernetes.client.V1ObjectMeta(name=name),
            target=kubernetes.client.V1ObjectReference(api_version="v1", kind="Node", name=NODE_NAME),
        )
        # The generated client cannot deserialize the Status this endpoint answers with; skip decoding.
        self._core.create_namespaced_pod_binding(name, self.namespace, body, _preload_content=False)

    def _launch(self, state: _PodState, pod: Manifest) -> None:
        container = pod["spec"]["containers"][0]
        try:
            env = resolve_env(pod, container, self._core)
        except EnvResolutionError as error:
            state.restart_at = time.monotonic() + 1.0
            self._report_waiting(state, "CreateContainerConfigError", str(error))
            return
        base = {name: os.environ[name] for name in _HOST_ENV if name in os.environ}
        log = state.log_path.open("ab")
        try:
            launch = self._launcher(ContainerStart(pod=pod, container=container, env={**base, **env}))
            state.process = subprocess.Popen(
                list(launch.argv),
                env=dict(launch.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach whatever it spawns too
                # The runner stops its processes itself (gracefully) before its thread ends; this covers the case where
                # it never gets to: a pytest killed with SIGKILL must not leave workers behind.
                preexec_fn=die_with_parent,  # noqa: PLW1509 - deliberate
            )
        except (OSError, ValueError) as error:
            # The kubelet's StartError: reported on the Pod, retried with back-off like a crash.
            log.close()
            state.restarts += 1
            state.restart_at = time.monotonic() + min(self._max_backoff, 0.5 * 2 ** (state.restarts - 1))
            self._report_waiting(state, "RunContainerError", f"cannot start {container.get('name')}: {error}")
            return
        state.log = log
        state.signaller = launch.signal
        state.started_at = _now()
        state.ready = False
        now = time.monotonic()
        state.readiness = _http_probe(container, "readinessProbe", launch.ports, now)
        state.liveness = _http_probe(container, "livenessProbe", launch.ports, now)
        state.unhealthy_kill_at = None
        self._report(state)

    def _check_readiness(self, state: _PodState) -> None:
        probe = state.readiness
        if probe is None:
            ready = True
        elif not probe.due(time.monotonic()):
            return
        elif _probe(probe.url, probe.timeout):
            probe.failures = 0
            ready = True
        else:
            # Not ready until the first success; once ready, only after failureThreshold misses in a row.
            probe.failures += 1
            ready = state.ready and probe.failures < probe.failure_threshold
        if ready != state.ready:
            state.ready = ready
            self._report(state)

    def _check_liveness(self, state: _PodState, pod: Manifest) -> None:
        now = time.monotonic()
        if state.unhealthy_kill_at is not None:
            if now >= state.unhealthy_kill_at:
                state.signal(signal.SIGKILL)
            return
        probe = state.liveness
        if probe is None or not probe.due(now):
            return
        if _probe(probe.url, probe.timeout):
            probe.failures = 0
            return
        probe.failures += 1
        if probe.failures >= probe.failure_threshold:
            # The kubelet restarts an unhealthy container: SIGTERM, SIGKILL after the grace period; the
            # exit is then counted as a restart like any other.
            grace = pod["spec"].get("terminationGracePeriodSeconds")
            state.unhealthy_kill_at = now + float(30 if grace is None else grace)
            state.signal(signal.SIGTERM)
            self._note(f"{state.name}: liveness probe failed {probe.failures} times ({probe.url}); restarting")

    def _terminate(self, uid: str, pod: Manifest, state: _PodState | None) -> None:
        now = time.monotonic()
        if state is not None and state.terminating_since is None:
            state.terminating_since = now
            grace = pod["metadata"].get("deletionGracePeriodSeconds")
            state.kill_at = now + float(30 if grace is None else grace)
            state.signal(signal.SIGTERM)
        if state is not None and state.alive():
            if now < state.kill_at:
                return
            state.signal(signal.SIGKILL)
            if state.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    state.process.wait(5)
        if state is not None:
            state.reap()
        # The kubelet's last word: the containers are gone, the Pod object may go too.
        with contextlib.suppress(ApiException):
            self._core.delete_namespaced_pod(
                pod["metadata"]["name"],
                self.namespace,
                grace_period_seconds=0,
                body=kubernetes.client.V1DeleteOptions(
                    grace_period_seconds=0, preconditions=kubernetes.client.V1Preconditions(uid=uid)
                ),
            )
        with self._lock:
            self._pods.pop(uid, None)

    # -- status -----------------------------------------------------------------------------------------

    def _patch_status(self, state: _PodState, status: Manifest) -> None:
        # Timestamps left out of the comparison: only a changed state is worth an API call.
        key = repr({k: v for k, v in status.items() if k != "conditions"})
        if key == state.reported:
            return
        # A JSON merge patch replaces the lists whole; a strategic merge would merge the old container
        # state into the new one (`waiting` and `running` at once, which the API server rejects).
        self._core.patch_namespaced_pod_status(
            state.name, self.namespace, {"status": status}, _content_type="application/merge-patch+json"
        )
        state.reported = key

    def _conditions(self, ready: bool) -> list[Manifest]:
        now = _now()
        flag = "True" if ready else "False"
        return [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now},
        ]

    def _container_status(self, state: _PodState, ready: bool, current: Manifest) -> Manifest:
        status: Manifest = {
            "name": state.container,
            "image": state.image,
            "imageID": "",
            "ready": ready,
            "started": "running" in current,
            "restartCount": state.restarts,
            "state": current,
        }
        if state.last_exit is not None:
            status["lastState"] = {"terminated": {"exitCode": state.last_exit, "reason": "Error"}}
        return status

    def _report(self, state: _PodState) -> None:
        running = {"running": {"startedAt": state.started_at}}
        self._patch_status(
            state,
            {
                "phase": "Running",
                "podIP": POD_IP,
                "podIPs": [{"ip": POD_IP}],
                "hostIP": POD_IP,
                "startTime": state.started_at,
                "conditions": self._conditions(state.ready),
                "containerStatuses": [self._container_status(state, state.ready, running)],
            },
        )

    def _report_waiting(self, state: _PodState, reason: str, message: str) -> None:
        waiting = {"waiting": {"reason": reason, "message": message}}
        self._patch_status(
            state,
            {
                "phase": "Running" if state.restarts else "Pending",
                "podIP": POD_IP,
                "hostIP": POD_IP,
                "conditions": self._conditions(False),
                "containerStatuses": [self._container_status(state, False, waiting)],
            },
        )
