"""A real Prometheus scraping a real worker under load and the operator on envtest, with the shipped rules.

The stack: envtest (kube-apiserver, etcd, kube-controller-manager), a nats-server, the stand-in control plane,
``noetl-operator run`` (subprocess, 1 s resync) and one ``noetl-worker`` process consuming the pool the
operator manages. Three pools: ``busy`` (the worker drains it; a poison message is dead-lettered),
``stuck`` (autoscaled with maxReplicas 1 and no worker: its lag only grows) and ``clash`` (its Deployment
name is taken by an unowned Deployment, so every apply is refused). Prometheus scrapes both processes every
second and evaluates the rules of ``deploy/monitoring`` with every duration scaled by ``SCALE``.

Proven here: every query of the dashboard and every metric the alerts read returns series from the real
processes; the lag alert, the dead-letter alert and the reconcile-error alert fire for the pool whose
condition was made true, and not for the others. ``NOETL_MONITORING_PLOT=<png>`` also plots the dashboard's
queries over the run (the picture in docs/operations.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client
import nats
import pytest
import yaml
from noetl_operator.crdgen import CRD_PATH
from noetl_operator.spec import API_GROUP, API_VERSION, KIND, PLURAL, NoetlWorkerPool
from noetl_standin.admin import StandinAdmin

from e2e.harness.operatorproc import running_operator
from monitoring.definitions import ALERTS, PANELS
from monitoring.generate import rule_groups
from tests.monitoring.conftest import REPO_ROOT
from tests.support.envtest import EnvtestCluster, require_assets, start_envtest
from tests.support.nats import NatsServer
from tests.support.prometheus import PrometheusServer, ScrapeTarget, running_prometheus
from tests.support.standin import running_standin
from tests.worker.workerproc import WorkerProcess, running_worker

pytestmark = pytest.mark.timeout(600)

NS = "monitoring"
SCALE = 0.03  # 10 minutes -> 18 s, 5 minutes -> 9 s, 1 minute -> 1.8 s
RATE_WINDOW = "10s"  # stands for Grafana's $__rate_interval at a 1 s scrape interval


@dataclass
class Stack:
    prometheus: PrometheusServer
    worker: WorkerProcess
    started: float
    load_error: list[BaseException]


def _pool(name: str, nats_url: str, stream: str, subject: str, durable: str, **spec: Any) -> dict[str, Any]:
    manifest = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "image": {"tag": "0.1.0"},
            "nats": {"url": nats_url, "stream": stream, "subject": subject},
            "consumer": {"durableName": durable, "management": "managed", "preventDelete": False},
            **spec,
        },
    }
    NoetlWorkerPool.model_validate(manifest)  # a bad test pool fails here, naming the field
    return manifest


def _prepare_cluster(cluster: EnvtestCluster) -> None:
    with cluster.api_client() as api:
        extensions = kubernetes.client.ApiextensionsV1Api(api)
        crd = yaml.safe_load((REPO_ROOT / CRD_PATH).read_text(encoding="utf-8"))
        extensions.create_custom_resource_definition(crd)
        core = kubernetes.client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": NS}})
        deadline = time.monotonic() + 30
        while (
            not _established(extensions, crd["metadata"]["name"])
            or not core.list_namespaced_service_account(NS, field_selector="metadata.name=default").items
        ):
            assert time.monotonic() < deadline, "CRD or namespace not ready"
            time.sleep(0.1)
        # Someone else's Deployment where the pool `clash` wants its own: every apply is refused.
        kubernetes.client.AppsV1Api(api).create_namespaced_deployment(
            NS,
            {
                "metadata": {"name": "noetl-worker-clash"},
                "spec": {
                    "selector": {"matchLabels": {"app": "other"}},
                    "template": {
                        "metadata": {"labels": {"app": "other"}},
                        "spec": {"containers": [{"name": "c", "image": "other:1"}]},
                    },
                },
            },
        )


def _established(extensions: kubernetes.client.ApiextensionsV1Api, name: str) -> bool:
    status = extensions.read_custom_resource_definition(name).status
    return any(c.type == "Established" and c.status == "True" for c in (status.conditions or []))


def _create_pools(cluster: EnvtestCluster, pools: list[dict[str, Any]]) -> None:
    with cluster.api_client() as api:
        custom = kubernetes.client.CustomObjectsApi(api)
        for pool in pools:
            custom.create_namespaced_custom_object(API_GROUP, API_VERSION, NS, PLURAL, pool)


def _wait_condition(cluster: EnvtestCluster, pool: str, kind: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with cluster.api_client() as api:
        custom = kubernetes.client.CustomObjectsApi(api)
        while True:
            body = custom.get_namespaced_custom_object(API_GROUP, API_VERSION, NS, PLURAL, pool)
            conditions = (body.get("status") or {}).get("conditions") or []
            if any(c["type"] == kind and c["status"] == "True" for c in conditions):
                return
            assert time.monotonic() < deadline, f"pool {pool}: {kind} never True: {conditions}"
            time.sleep(0.2)


@contextlib.contextmanager
def _load(
    standin_url: str, nats_url: str, busy_subject: str, stuck_subject: str, errors: list[BaseException]
) -> Iterator[None]:
    """Jobs for the worker (some failing, claims refused now and then), a poison pointer, a growing backlog."""
    stop = threading.Event()

    async def run() -> None:
        client = await nats.connect(nats_url)
        try:
            js = client.jetstream()
            await js.publish(busy_subject, b"not a command pointer")  # poison: terminated and dead-lettered
            async with StandinAdmin(standin_url) as admin:
                await admin.inject_faults(saturation_ratio=0.2, paths=["/api/commands"], seed=7)
                tick = 0
                while not stop.is_set():
                    await js.publish(stuck_subject, b'{"nobody": "drains this"}')
                    if tick % 5 == 0:
                        steps = [{"name": f"n{i}", "kind": "noop", "tool_config": {"result": i}} for i in range(6)]
                        steps.append({"name": "slow", "kind": "shell", "tool_config": {"command": "sleep 0.4"}})
                        steps.append({"name": "bad", "kind": "shell", "tool_config": {"command": "exit 3"}})
                        await admin.submit_job(steps)
                    tick += 1
                    await asyncio.sleep(0.2)
        finally:
            await client.close()

    def thread() -> None:
        try:
            asyncio.run(run())
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=thread, name="monitoring-load", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(10)


@pytest.fixture(scope="module")
def stack(
    prometheus_assets: Path, nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    envtest_assets = require_assets()
    logs = tmp_path_factory.mktemp("monitoring")
    tag = uuid.uuid4().hex[:8]
    stream, subject = f"MON_{tag}", f"mon{tag}.commands"
    stuck_stream, stuck_subject = f"STUCK_{tag}", f"stuck{tag}.commands"
    busy, stuck = f"busy_{tag}", f"stuck_{tag}"
    errors: list[BaseException] = []
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(start_envtest(envtest_assets))
        _prepare_cluster(cluster)
        standin = stack.enter_context(
            running_standin(nats_url=nats_server.url, nats_stream=stream, nats_subject=subject)
        )

        async def stuck_stream_exists() -> None:
            client = await nats.connect(nats_server.url)
            await client.jetstream().add_stream(name=stuck_stream, subjects=[stuck_subject, f"{stuck_subject}.>"])
            await client.close()

        asyncio.run(stuck_stream_exists())
        operator = stack.enter_context(
            running_operator(cluster.kubeconfig_path, logs / "operator.log", resync_interval_seconds=1.0)
        )
        _create_pools(
            cluster,
            [
                _pool("busy", nats_server.url, stream, subject, busy, replicas=1, autoscaling={"enabled": False}),
                _pool(
                    "stuck",
                    nats_server.url,
                    stuck_stream,
                    stuck_subject,
                    stuck,
                    autoscaling={"enabled": True, "minReplicas": 1, "maxReplicas": 1, "lagThreshold": 5},
                ),
                _pool("clash", nats_server.url, stuck_stream, stuck_subject, f"clash_{tag}"),
            ],
        )
        _wait_condition(cluster, "busy", "ConsumerReady")  # the worker consumes the operator's durable
        worker = stack.enter_context(
            running_worker(
                logs, nats_server.url, standin.url,
                NATS_STREAM=stream, NATS_SUBJECT=subject, NATS_CONSUMER=busy,
                NATS_DEAD_LETTER_SUBJECT=f"noetl.deadletter.{stream}.{busy}",
                WORKER_MAX_CONCURRENT="4", WORKER_NATS_LAG_POLL_INTERVAL="1",
            )
        )  # fmt: skip
        operator_address = operator.metrics_url.removeprefix("http://").removesuffix("/metrics")
        prometheus = stack.enter_context(
            running_prometheus(
                prometheus_assets / "prometheus",
                [
                    # What the PodMonitor's relabelling gives a worker pod's series.
                    ScrapeTarget(
                        "noetl-workers", [f"127.0.0.1:{worker.metrics_port}"], {"namespace": NS, "pool": "busy"}
                    ),
                    # The operator's per-pool series carry their own namespace: honor_labels, as the ServiceMonitor.
                    ScrapeTarget(
                        "noetl-operator", [operator_address], {"namespace": "noetl-system"}, honor_labels=True
                    ),
                ],
                rules=rule_groups(scale=SCALE),
                interval=1.0,
            )
        )
        stack.enter_context(_load(standin.url, nats_server.url, subject, stuck_subject, errors))
        yield Stack(prometheus, worker, time.time(), errors)


def _eventually(what: str, check: Callable[[], list[str]], stack: Stack, timeout: float = 150.0) -> None:
    """Poll ``check`` (the problems still open) until it returns none."""
    deadline = time.monotonic() + timeout
    while True:
        assert not stack.load_error, f"the load generator failed: {stack.load_error[0]!r}"
        problems = check()
        if not problems:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} after {timeout:.0f}s:\n" + "\n".join(problems))
        time.sleep(1.0)


def _dashboard_query(expr: str) -> str:
    return expr.replace("$namespace", NS).replace('"$pool"', '".*"').replace("$__rate_interval", RATE_WINDOW)


def test_every_dashboard_query_returns_series_from_the_real_processes(stack: Stack) -> None:
    queries = {f"{panel.title} / {t.legend}": _dashboard_query(t.expr) for panel in PANELS for t in panel.targets}

    def empty() -> list[str]:
        return [f"{name}: {expr}" for name, expr in queries.items() if not stack.prometheus.query(expr)]

    _eventually("dashboard queries still without series", empty, stack)


def test_every_metric_the_alerts_read_is_exported(stack: Stack) -> None:
    names = sorted({name for alert in ALERTS for name in re.findall(r"\bnoetl_[a-z_]+\b", alert.expr)})
    assert len(names) >= 6

    def missing() -> list[str]:
        return [name for name in names if not stack.prometheus.query(f"count({name})")]

    _eventually("metrics read by the alerts still missing", missing, stack)


def _firing(stack: Stack) -> set[tuple[str, str]]:
    return {
        (alert["labels"]["alertname"], alert["labels"].get("pool", ""))
        for alert in stack.prometheus.alerts()
        if alert["state"] == "firing"
    }


@pytest.mark.parametrize(
    ("alertname", "pool", "quiet_pool"),
    [
        ("NoetlPoolLagGrowingAtMaxReplicas", "stuck", "busy"),  # backlog held up at maxReplicas
        ("NoetlDeadLetters", "busy", "stuck"),  # the poison message, dead-lettered by the worker
        ("NoetlOperatorReconcileErrors", "clash", "busy"),  # every apply refused
    ],
)
def test_an_alert_fires_when_its_condition_is_made_true(
    stack: Stack, alertname: str, pool: str, quiet_pool: str
) -> None:
    def not_yet() -> list[str]:
        firing = _firing(stack)
        return [] if (alertname, pool) in firing else [f"{alertname} for {pool} not firing; firing: {sorted(firing)}"]

    _eventually(f"{alertname} never fired", not_yet, stack)
    assert (alertname, quiet_pool) not in _firing(stack), f"{alertname} fires for {quiet_pool} too"


def test_plot_the_dashboard_from_this_run(stack: Stack) -> None:
    """Renders the dashboard's queries over the run when ``NOETL_MONITORING_PLOT`` names a PNG."""
    target = os.environ.get("NOETL_MONITORING_PLOT")
    if not target:
        # Not a skip (CI would fail it): the picture is made on demand, the queries are proven above.
        assert stack.prometheus.query("up")
        return
    from tests.monitoring.plot import plot_dashboard  # noqa: PLC0415 - matplotlib only when asked

    plot_dashboard(stack.prometheus, _dashboard_query, stack.started, time.time(), Path(target))
    assert Path(target).stat().st_size > 10_000
