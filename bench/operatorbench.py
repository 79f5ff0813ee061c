"""``python -m bench operator``: the operator's reconcile cost on a real API server (envtest).

Three phases, each with ``noetl-operator run`` as its own process (so its CPU and RSS are the kernel's
figures) watching one namespace of its own:

1. **create → Ready**: pools created one at a time; each timed from the create call to the first watch
   event showing ``Ready=True`` (children applied, the Deployment controller's answer seen, status written).
2. **cold start**: ``cold_pools`` pools exist before the operator starts; timed from process start until
   every one of them shows ``Ready=True``.
3. **idle**: with those pools reconciled and nothing changing, the operator's CPU over ``idle_window_s``
   (its resync timer keeps running — that is the steady-state cost being measured).

The pools are the cheapest kind that can be Ready without nodes: ``autoscaling.enabled: false`` with
``replicas: 0`` (a Deployment with no pods is Available) and a ``managed`` consumer on a real nats-server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import kubernetes.client
import kubernetes.watch
import nats
import yaml
from nats.js.api import StorageType, StreamConfig
from noetl_standin.natsserver import NatsServer, free_port, running_nats_server

from bench.machine import describe_machine
from bench.procs import MIB, BenchError, SupervisedProcess
from bench.results import OperatorReport, TargetCheck
from bench.settings import OperatorBenchSettings
from bench.stats import summarize

__all__ = ["run_operator_bench"]

REPO = Path(__file__).resolve().parents[1]
CRD_PATHS = (REPO / "crds" / "noetl.io_noetlworkerpools.yaml", REPO / "crds" / "kopf.dev_peerings.yaml")
GROUP, VERSION, PLURAL = "noetl.io", "v1alpha1", "noetlworkerpools"
READY_P95_S = 1.0
COLD_START_S = 60.0
IDLE_CPU_SHARE = 0.02
RSS_MIB = 150.0
PEERING = "noetl-operator"


def _pool(name: str, namespace: str, nats_url: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NoetlWorkerPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "image": {"tag": "0.1.0"},
            "autoscaling": {"enabled": False},
            "replicas": 0,
            "nats": {"url": nats_url},
            "consumer": {"durableName": f"bench_{namespace}_{name}".replace("-", "_"), "management": "managed"},
        },
    }


def _is_ready(obj: Mapping[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class ReadyWatch:
    """Records, from a watch on one namespace, when each pool was first seen ``Ready=True``."""

    def __init__(self, api: kubernetes.client.ApiClient, namespace: str) -> None:
        self.api = kubernetes.client.CustomObjectsApi(api)
        self.namespace = namespace
        self.ready_at: dict[str, float] = {}
        self.changed = threading.Condition()
        self._stopping = threading.Event()
        self._watch = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(target=self._run, name=f"watch-{namespace}", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> ReadyWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._watch.stop()  # type: ignore[no-untyped-call]
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            # A watch the server ends (its own timeout) is opened again: the fresh listing replays every pool's
            # current state, so nothing that turned Ready in between is missed (only seen a little late).
            while not self._stopping.is_set():
                for event in self._watch.stream(  # type: ignore[no-untyped-call]
                    self.api.list_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL, timeout_seconds=60
                ):
                    obj = event["object"]
                    name = obj["metadata"]["name"]
                    if name not in self.ready_at and _is_ready(obj):
                        with self.changed:
                            self.ready_at[name] = time.time()
                            self.changed.notify_all()
        except Exception as error:
            self.error = error
            with self.changed:
                self.changed.notify_all()

    def why_not_ready(self, names: set[str]) -> str:
        """The most common ``Ready`` messages among ``names`` (what a failed phase reports)."""
        reasons: Counter[str] = Counter()
        listing = cast(dict[str, Any], self.api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL))
        for pool in listing["items"]:
            if pool["metadata"]["name"] in names:
                conditions = (pool.get("status") or {}).get("conditions") or []
                ready = next((c for c in conditions if c.get("type") == "Ready"), None)
                reasons[str(ready.get("message")) if ready else "no status written"] += 1
        return "; ".join(f"{count} x {message}" for message, count in reasons.most_common(3))

    def wait(self, names: set[str], deadline: float, operator: SupervisedProcess) -> set[str]:
        """Block until every name is Ready or the monotonic ``deadline`` passes; return those not Ready."""
        with self.changed:
            while not names <= self.ready_at.keys():
                if self.error is not None:
                    raise BenchError(f"watch on {self.namespace} failed: {self.error}")
                operator.check_alive()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(min(remaining, 0.5))
            return names - self.ready_at.keys()


def _install_crds(api: kubernetes.client.ApiClient) -> None:
    """Install ``crds/`` as a real install does: the pool CRD and kopf's peering CRDs."""
    extensions = kubernetes.client.ApiextensionsV1Api(api)
    names = []
    for path in CRD_PATHS:
        for crd in yaml.safe_load_all(path.read_text()):
            if crd:
                extensions.create_custom_resource_definition(crd)
                names.append(crd["metadata"]["name"])
    deadline = time.monotonic() + 30
    for name in names:
        while True:
            status = extensions.read_custom_resource_definition(name).status
            conditions = (status.conditions if status is not None else None) or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"CRD {name} did not become Established within 30 s")
            time.sleep(0.1)


def _namespace(api: kubernetes.client.ApiClient, name: str) -> None:
    """A namespace with the operator's peering object, as an install for one namespace has it."""
    kubernetes.client.CoreV1Api(api).create_namespace(
        kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name))
    )
    # Not `--standalone`: `noetl-operator run` passes its peering name to kopf, which then makes peering
    # mandatory, and a standalone operator would wait forever for a peering resource it never looks up.
    kubernetes.client.CustomObjectsApi(api).create_namespaced_custom_object(
        "kopf.dev",
        "v1",
        name,
        "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING, "namespace": name}},
    )


@contextlib.contextmanager
def _operator(
    kubeconfig: Path, namespace: str, log_path: Path, settings: OperatorBenchSettings
) -> Iterator[tuple[SupervisedProcess, str]]:
    """``noetl-operator run`` for one namespace; yields the process and its liveness URL."""
    port = free_port()
    env = dict(os.environ)
    if settings.resync_interval_s is not None:
        env["NOETL_OPERATOR_RESYNC_INTERVAL_SECONDS"] = str(settings.resync_interval_s)
    process = SupervisedProcess(
        f"operator[{namespace}]",
        [
            sys.executable,
            "-m",
            "noetl_operator.cli",
            "run",
            "--namespace",
            namespace,
            "--kubeconfig",
            str(kubeconfig),
            "--liveness",
            f"http://127.0.0.1:{port}/healthz",
            # Measured as deployed: /metrics served (on loopback here), though nothing scrapes it.
            "--metrics-bind",
            f"127.0.0.1:{free_port()}",
        ],
        env,
        log_path,
        settings.sample_interval_s,
    )
    process.start()
    try:
        yield process, f"http://127.0.0.1:{port}/healthz"
    finally:
        process.stop()


def _create(custom: kubernetes.client.CustomObjectsApi, body: dict[str, Any]) -> None:
    namespace = body["metadata"]["namespace"]
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def _wait_live(operator: SupervisedProcess, url: str, limit_s: float) -> None:
    """Wait for kopf's liveness endpoint: the operator has logged in and started its watches."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        operator.check_alive()
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.05)
    raise BenchError(f"operator not live at {url} after {limit_s:.0f} s: {operator.log_tail()}")


def _phase_create_to_ready(
    api: kubernetes.client.ApiClient, settings: OperatorBenchSettings, kubeconfig: Path, nats: NatsServer
) -> tuple[list[float], float]:
    namespace = "bench-create"
    _namespace(api, namespace)
    custom = kubernetes.client.CustomObjectsApi(api)
    created: dict[str, float] = {}
    log_path = settings.out_dir / "logs" / "operator-create.log"
    with (
        _operator(kubeconfig, namespace, log_path, settings) as (operator, liveness),
        ReadyWatch(api, namespace) as watch,
    ):
        _wait_live(operator, liveness, settings.ready_timeout_s)
        # Paced creation, without waiting for each: the run stays short even when Ready takes a resync period.
        for index in range(settings.pools):
            name = f"pool-{index:03d}"
            created[name] = time.time()
            _create(custom, _pool(name, namespace, nats.url))
            time.sleep(settings.create_interval_s)
        missing = watch.wait(set(created), time.monotonic() + settings.ready_timeout_s, operator)
        if missing:
            raise BenchError(
                f"{len(missing)} of {len(created)} pools not Ready "
                f"{settings.ready_timeout_s:.0f} s after the last create: {watch.why_not_ready(missing)}"
            )
        assert operator.monitor is not None
        peak = operator.monitor.peak_rss() / MIB
    return [watch.ready_at[name] - at for name, at in created.items()], peak


def _phase_cold_and_idle(
    api: kubernetes.client.ApiClient, settings: OperatorBenchSettings, kubeconfig: Path, nats: NatsServer
) -> tuple[float, float, float, float]:
    namespace = "bench-cold"
    _namespace(api, namespace)
    custom = kubernetes.client.CustomObjectsApi(api)
    names = {f"pool-{index:03d}" for index in range(settings.cold_pools)}
    for name in sorted(names):
        _create(custom, _pool(name, namespace, nats.url))
    with ReadyWatch(api, namespace) as watch:
        started = time.time()
        with _operator(kubeconfig, namespace, settings.out_dir / "logs" / "operator-cold.log", settings) as (
            operator,
            _,
        ):
            missing = watch.wait(names, time.monotonic() + settings.cold_timeout_s, operator)
            if missing:
                raise BenchError(
                    f"cold start: {len(missing)} of {len(names)} pools not Ready after "
                    f"{settings.cold_timeout_s:.0f} s: {watch.why_not_ready(missing)}"
                )
            cold = max(watch.ready_at.values()) - started
            # Let the tail of the start-up (status patches, events) settle before the idle window opens.
            time.sleep(2.0)
            assert operator.monitor is not None
            idle_start = time.time()
            time.sleep(settings.idle_window_s)
            idle_reading = operator.monitor.sample()
            idle_end = time.time()
            idle = operator.monitor.cpu_between(idle_start, idle_end) / (idle_end - idle_start)
            peak = operator.monitor.peak_rss() / MIB
            idle_rss = (idle_reading.rss if idle_reading else 0) / MIB
    return cold, idle, peak, idle_rss


async def _command_stream(nats_url: str) -> None:
    """The command stream, as the NoETL server creates it: pools observe it, their consumers live on it."""
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().add_stream(
            StreamConfig(
                name="NOETL_COMMANDS", subjects=["noetl.commands", "noetl.commands.>"], storage=StorageType.MEMORY
            )
        )
    finally:
        await nc.close()


def _check(target: str, threshold: str, measured: str, met: bool) -> TargetCheck:
    return TargetCheck(
        implementation="operator",
        target=target,
        threshold=threshold,
        measured=measured,
        status="met" if met else "missed",
    )


def _measure(settings: OperatorBenchSettings) -> OperatorReport:
    # The launcher lives with the test support code: one envtest for the suite, the e2e tier and this.
    from tests.support.envtest import find_assets, start_envtest  # noqa: PLC0415

    started = time.time()
    assets = find_assets()
    if assets is None:
        raise BenchError("envtest assets are not built: run scripts/envtest-assets (see docs/testing.md)")
    with running_nats_server() as nats, start_envtest(assets) as cluster, cluster.api_client() as api:
        asyncio.run(_command_stream(nats.url))
        _install_crds(api)
        latencies, create_peak = _phase_create_to_ready(api, settings, cluster.kubeconfig_path, nats)
        cold, idle, cold_peak, idle_rss = _phase_cold_and_idle(api, settings, cluster.kubeconfig_path, nats)
        machine = describe_machine(nats.binary)
    ready = summarize(latencies)
    assert ready is not None
    peak = max(create_peak, cold_peak)
    targets = [
        _check(
            "pool create -> Ready, p95",
            f"<= {READY_P95_S:.0f} s",
            f"{ready.p95_ms:.0f} ms",
            ready.p95_ms <= 1000 * READY_P95_S,
        ),
        _check(
            f"cold start, {settings.cold_pools} pools reconciled",
            f"<= {COLD_START_S:.0f} s",
            f"{cold:.1f} s",
            cold <= COLD_START_S,
        ),
        _check(
            f"idle CPU with {settings.cold_pools} pools",
            f"<= {IDLE_CPU_SHARE:.0%} of a core",
            f"{idle:.2%}",
            idle <= IDLE_CPU_SHARE,
        ),
        _check("operator peak RSS", f"<= {RSS_MIB:.0f} MiB", f"{peak:.1f} MiB", peak <= RSS_MIB),
    ]
    notes = []
    if settings.resync_interval_s is not None:
        notes.append(
            f"resync interval set to {settings.resync_interval_s:g} s (the operator ships with 30 s): "
            "create -> Ready and idle CPU are not the shipped operator's figures"
        )
    return OperatorReport(
        notes=notes,
        started_at=datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        duration_s=time.time() - started,
        machine=machine,
        settings=settings.model_dump(mode="json"),
        create_to_ready=ready,
        cold_start_s=cold,
        cold_start_pools=settings.cold_pools,
        idle_cpu_share=idle,
        peak_rss_mib=peak,
        idle_rss_mib=idle_rss,
        targets=targets,
    )


def run_operator_bench(settings: OperatorBenchSettings) -> OperatorReport:
    """Run the three phases; blocking, in the calling thread (so an interrupt unwinds every server)."""
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    return _measure(settings)
