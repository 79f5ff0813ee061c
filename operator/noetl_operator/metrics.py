"""The operator's Prometheus metrics: one table (:data:`METRICS`) defines them and documents them.

Counters and the histogram are recorded where things happen (reconciliations in the handlers, API calls and
applies in :mod:`noetl_operator.kube`). The per-pool gauges are not bookkept at all: a collector reads the
last reconciliation of every known pool (:class:`PoolSample`) when Prometheus scrapes, so a deleted pool's
series disappear with it and an idle operator does no metrics work between scrapes.

``docs/operator.md`` lists :data:`METRICS` (``python -m noetl_operator.docgen``); the alerts and the dashboard
in ``deploy/monitoring/`` query these names.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "METRICS",
    "MetricSpec",
    "OperatorMetrics",
    "PoolSample",
    "bind_socket",
    "serve_metrics",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# No `*_created` series: they double the exposition for no reader (the worker does the same).
disable_created_metrics()  # type: ignore[no-untyped-call]

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its exposed name (with ``_total`` for counters), type, labels and meaning."""

    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()


_POOL = ("namespace", "pool")
_RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Every metric the operator exports. Outcomes of a reconciliation: ``ok`` (children converged or the
#: problem is reported in a condition), ``invalid_spec``, ``apply_rejected`` (the API server refused a child),
#: ``error`` (the reconciliation or its status write failed; retried).
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "noetl_operator_reconciles_total", "counter", (*_POOL, "outcome"),
        "Reconciliations of a pool by outcome: ok, invalid_spec, apply_rejected, error.",
    ),
    MetricSpec(
        "noetl_operator_reconcile_duration_seconds", "histogram", (),
        "Time of one reconciliation (Secrets, children, consumer, status write).", _RECONCILE_BUCKETS,
    ),
    MetricSpec(
        "noetl_operator_applies_total", "counter", ("kind",),
        "Server-side applies of a child, by kind (an idle operator applies nothing).",
    ),
    MetricSpec(
        "noetl_operator_drift_repairs_total", "counter", (*_POOL, "kind"),
        "Children re-applied because someone else changed them (also a DriftRepaired event on the pool).",
    ),
    MetricSpec(
        "noetl_operator_api_errors_total", "counter", ("code",),
        "Kubernetes API answers >= 400 to the operator's own client, by HTTP status (a 404 of a lookup for "
        "something that may be absent is not an error).",
    ),
    MetricSpec(
        "noetl_operator_consumer_pending_messages", "gauge", _POOL,
        "The pool's durable consumer: messages not yet delivered (num_pending; KEDA scales on it).",
    ),
    MetricSpec(
        "noetl_operator_consumer_ack_pending_messages", "gauge", _POOL,
        "The pool's durable consumer: messages delivered and not yet acked (num_ack_pending).",
    ),
    MetricSpec(
        "noetl_operator_dead_letter_messages", "gauge", _POOL,
        "Messages in the pool's dead-letter stream (managed consumers; read on deep resyncs).",
    ),
    MetricSpec(
        "noetl_operator_pool_condition", "gauge", (*_POOL, "condition", "status"),
        "1 for the status (True, False, Unknown) each condition of the pool has now, 0 for the other two.",
    ),
    MetricSpec(
        "noetl_operator_pools", "gauge", ("condition", "status"),
        "Pools by condition and status.",
    ),
    MetricSpec(
        "noetl_operator_pool_replicas", "gauge", _POOL, "Worker pods of the pool's Deployment (status.replicas).",
    ),
    MetricSpec(
        "noetl_operator_pool_ready_replicas", "gauge", _POOL, "Ready worker pods (status.readyReplicas).",
    ),
    MetricSpec(
        "noetl_operator_pool_min_replicas", "gauge", _POOL, "spec.autoscaling.minReplicas (autoscaled pools).",
    ),
    MetricSpec(
        "noetl_operator_pool_max_replicas", "gauge", _POOL, "spec.autoscaling.maxReplicas (autoscaled pools).",
    ),
    MetricSpec(
        "noetl_operator_pool_lag_threshold_messages", "gauge", _POOL,
        "spec.autoscaling.lagThreshold: KEDA's target lag per replica (autoscaled pools).",
    ),
)  # fmt: skip

_SPECS = {spec.name: spec for spec in METRICS}
_STATUSES = ("True", "False", "Unknown")


@dataclass(frozen=True)
class PoolSample:
    """What the gauges say about one pool: its last reconciled status and the scaling bounds of its spec."""

    namespace: str
    name: str
    status: Mapping[str, Any]
    min_replicas: int | None = None
    max_replicas: int | None = None
    lag_threshold: int | None = None
    dead_letters: int | None = None


def _gauge(name: str) -> GaugeMetricFamily:
    spec = _SPECS[name]
    return GaugeMetricFamily(name, spec.help, labels=list(spec.labels))


class _PoolCollector(Collector):
    """Per-pool gauges, read from the samples at scrape time."""

    def __init__(self, pools: dict[str, PoolSample]) -> None:
        self._pools = pools

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {spec.name: _gauge(spec.name) for spec in METRICS if spec.kind == "gauge"}
        counts: dict[tuple[str, str], int] = {}
        for sample in list(self._pools.values()):
            pool = [sample.namespace, sample.name]
            status = sample.status
            lag = status.get("lag") or {}

            def put(name: str, value: object, pool: list[str] = pool) -> None:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    families[name].add_metric(pool, float(value))

            put("noetl_operator_consumer_pending_messages", lag.get("numPending"))
            put("noetl_operator_consumer_ack_pending_messages", lag.get("numAckPending"))
            put("noetl_operator_dead_letter_messages", sample.dead_letters)
            put("noetl_operator_pool_replicas", status.get("replicas"))
            put("noetl_operator_pool_ready_replicas", status.get("readyReplicas"))
            put("noetl_operator_pool_min_replicas", sample.min_replicas)
            put("noetl_operator_pool_max_replicas", sample.max_replicas)
            put("noetl_operator_pool_lag_threshold_messages", sample.lag_threshold)
            for condition in status.get("conditions") or []:
                kind, now = str(condition.get("type")), str(condition.get("status"))
                for value in _STATUSES:
                    families["noetl_operator_pool_condition"].add_metric([*pool, kind, value], float(value == now))
                counts[(kind, now)] = counts.get((kind, now), 0) + 1
        for (kind, now), count in sorted(counts.items()):
            families["noetl_operator_pools"].add_metric([kind, now], float(count))
        yield from families.values()


class OperatorMetrics:
    """The operator's metrics on a private registry (several operators may run in one test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pools: dict[str, PoolSample] = {}  # pool UID -> its last sample
        r = self.registry

        def counter(name: str) -> Counter:
            spec = _SPECS[name]
            return Counter(name.removesuffix("_total"), spec.help, list(spec.labels), registry=r)

        self.reconciles = counter("noetl_operator_reconciles_total")
        self.applies = counter("noetl_operator_applies_total")
        self.drift_repairs = counter("noetl_operator_drift_repairs_total")
        self.api_errors = counter("noetl_operator_api_errors_total")
        duration = _SPECS["noetl_operator_reconcile_duration_seconds"]
        self.reconcile_duration = Histogram(duration.name, duration.help, buckets=duration.buckets, registry=r)
        r.register(_PoolCollector(self.pools))

    def reconciled(self, sample: PoolSample, uid: str, outcome: str, seconds: float) -> None:
        """One reconciliation of a pool finished; ``sample`` holds the status it produced."""
        self.pools[uid] = sample
        self.reconciles.labels(namespace=sample.namespace, pool=sample.name, outcome=outcome).inc()
        self.reconcile_duration.observe(seconds)

    def failed(self, namespace: str, name: str, seconds: float) -> None:
        """A reconciliation raised (API or NATS failure); the pool's gauges keep their last values."""
        self.reconciles.labels(namespace=namespace, pool=name, outcome="error").inc()
        self.reconcile_duration.observe(seconds)

    def forget(self, uid: str, namespace: str, name: str) -> None:
        """A deleted pool: its gauges and reconcile counts go at once (drift-repair counts stay until a restart)."""
        self.pools.pop(uid, None)
        for outcome in ("ok", "invalid_spec", "apply_rejected", "error"):
            try:
                self.reconciles.remove(namespace, name, outcome)
            except KeyError:
                continue

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def bind_socket(bind: str) -> socket.socket:
    """A listening TCP socket for ``host:port`` (``[v6]:port`` too); raises ``ValueError`` or ``OSError``."""
    host, sep, port_text = bind.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"expected host:port, got {bind!r}")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - a pod must be scraped from outside
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port_text)))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def serve_metrics(metrics: OperatorMetrics, sock: socket.socket) -> web.AppRunner:
    """Serve ``GET /metrics`` on an already bound socket; ``await runner.cleanup()`` to stop."""

    async def exposition(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", exposition)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner
