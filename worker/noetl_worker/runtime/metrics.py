"""Prometheus metrics: the seed's names, labels and buckets, plus this worker's own (dispositions,
saturation, claims, control-plane latency, whole-command duration).

One :class:`WorkerMetrics` owns a private ``CollectorRegistry`` (not the global one), so tests and dev
mode can run several workers in one process without colliding. The per-command metrics added here are
recorded through methods that cache each label child in a plain dict: ``labels()`` takes a lock and builds
a key tuple on every call, a dict hit does neither.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.values import MutexValue

__all__ = ["CONTENT_TYPE", "WorkerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The seed exports no `*_created` series; neither do we (they double the exposition for no reader).
disable_created_metrics()  # type: ignore[no-untyped-call]

_PULL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_DISPATCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_EMIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_PUT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

_Metric = TypeVar("_Metric", Counter, Histogram, Gauge)


class WorkerMetrics:
    """Every metric the worker exports. Attribute names follow the metric names without the prefix."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[int, str], Counter | Histogram | Gauge] = {}
        r = self.registry
        # --- the seed's inventory (rust-worker-reference §8) ---
        self.pulls = Counter(
            "noetl_worker_pulls", "Pulled messages by claim outcome.", ["outcome"], registry=r
        )  # outcome: claimed, already_claimed, retry_later, failed
        self.pull_duration = _on_the_loop(
            Histogram(
                "noetl_worker_pull_duration_seconds", "Receive + claim time per message.", buckets=_PULL_BUCKETS,
                registry=r,
            )
        )  # fmt: skip
        self.dispatch_duration = Histogram(
            "noetl_worker_dispatch_duration_seconds", "Tool run time.", ["tool_kind"], buckets=_DISPATCH_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.dispatch_errors = Counter(
            "noetl_worker_dispatch_errors", "Commands that ended in call.error.", ["tool_kind"], registry=r
        )
        self.event_emit_duration = Histogram(
            "noetl_worker_event_emit_duration_seconds", "Event delivery time, including retries.", ["event_type"],
            buckets=_EMIT_BUCKETS, registry=r,
        )  # fmt: skip
        self.event_emit_retries = Counter(
            "noetl_worker_event_emit_retries", "Control-plane call retries.", ["event_type"], registry=r
        )
        self.concurrent_dispatches = Gauge("noetl_worker_concurrent_dispatches", "Commands in flight.", registry=r)
        self.consumer_pending = Gauge(
            "noetl_worker_nats_consumer_pending", "Consumer num_pending.", ["stream", "consumer"], registry=r
        )
        self.consumer_ack_pending = Gauge(
            "noetl_worker_nats_consumer_ack_pending", "Consumer num_ack_pending.", ["stream", "consumer"], registry=r
        )
        self.result_store_put_duration = Histogram(
            "noetl_worker_result_store_put_duration_seconds", "Successful PUT /api/result time.",
            buckets=_PUT_BUCKETS, registry=r,
        )  # fmt: skip
        self.result_store_put_bytes = Counter(
            "noetl_worker_result_store_put_bytes", "JSON bytes stored through PUT /api/result.", registry=r
        )
        self.result_store_put_errors = Counter(
            "noetl_worker_result_store_put_errors", "Failed PUT /api/result calls.", registry=r
        )
        # --- message dispositions (this worker's ack policy; see docs/worker.md) ---
        self.acked = Counter("noetl_worker_messages_acked", "Messages acked.", ["reason"], registry=r)
        self.naked = Counter("noetl_worker_messages_naked", "Messages naked for redelivery.", ["reason"], registry=r)
        self.termed = Counter("noetl_worker_messages_termed", "Messages terminated (never redelivered).", ["reason"],
                              registry=r)  # fmt: skip
        self.dead_lettered = Counter(
            "noetl_worker_messages_dead_lettered", "Terminated messages copied to the dead-letter subject.", registry=r
        )
        # --- saturation (not readiness: a busy worker is healthy; alerts and dashboards use these) ---
        self.slots_busy = Gauge("noetl_worker_slots_busy", "Slots running a command now.", registry=r)
        self.slots_total = Gauge("noetl_worker_slots_total", "Slots (WORKER_MAX_CONCURRENT).", registry=r)
        # --- operations (docs/operations.md): what the dashboard and the alerts read ---
        self.registered = Gauge(
            "noetl_worker_registered", "1 while the worker is registered with the control plane.", registry=r
        )
        self.command_duration = Histogram(
            "noetl_worker_command_duration_seconds", "Claim granted to outcome accepted (or given up), per command.",
            ["tool_kind"], buckets=_DISPATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.claims = Counter(
            "noetl_worker_claims", "Claim answers by HTTP status (unreachable: no answer).", ["code"], registry=r
        )
        self.control_plane_request_duration = Histogram(
            "noetl_worker_control_plane_request_duration_seconds",
            "Control-plane HTTP requests (each attempt) until the answer is read.", ["endpoint", "code"],
            buckets=_REQUEST_BUCKETS, registry=r,
        )  # fmt: skip
        self._request_children: dict[tuple[str, str], Histogram] = {}

    def watch_slots(self, total: int, busy: Callable[[], int]) -> None:
        """Report ``total`` slots and read ``busy()`` at every scrape (never stale, no bookkeeping per command)."""
        self.slots_total.set(total)
        self.slots_busy.set_function(busy)

    def watch_registration(self, registered: Callable[[], bool]) -> None:
        """Read the registration state at every scrape."""
        self.registered.set_function(lambda: 1.0 if registered() else 0.0)

    def control_plane_request(self, endpoint: str, code: str, seconds: float) -> None:
        # Two labels, so not :meth:`labelled`: the same idea with the pair as the key.
        key = (endpoint, code)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = _on_the_loop(
                self.control_plane_request_duration.labels(endpoint=endpoint, code=code)
            )
        child.observe(seconds)

    def labelled(self, metric: _Metric, value: str) -> _Metric:
        """``metric.labels(value)`` for a one-label metric, the child cached: ``labels()`` checks its
        arguments and takes the metric's lock on every call, which the per-command path pays several times."""
        key = (id(metric), value)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = _on_the_loop(metric.labels(value))
        return child  # type: ignore[return-value]

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _on_the_loop(metric: _Metric) -> _Metric:
    """``metric`` (a child, or a metric without labels) with ``observe``/``inc`` that take no lock.

    prometheus-client guards every value with a lock and walks a histogram's buckets in Python: 2 µs per
    ``observe`` and 0.9 µs per ``inc`` on the benchmark machine, eleven and five of them per command. Every
    update of these per-command metrics happens on the event loop's thread, and ``/metrics`` is served on
    that loop too (``health.py``), so nothing else writes or reads them concurrently: a bisect and a float
    addition do (0.4 µs). Values of another class (prometheus-client's multiprocess mode) keep the originals.
    """
    if isinstance(metric, Histogram):
        total, buckets = metric._sum, metric._buckets
        if type(total) is MutexValue and all(type(b) is MutexValue for b in buckets):
            bounds = list(metric._upper_bounds)  # ends with +Inf: every amount has a bucket

            def observe(amount: float, exemplar: object = None) -> None:
                if exemplar is not None:
                    Histogram.observe(metric, amount, exemplar)  # type: ignore[arg-type]
                    return
                total._value += amount
                buckets[bisect_left(bounds, amount)]._value += 1

            metric.observe = observe  # type: ignore[method-assign]
    elif isinstance(metric, Counter):
        value = metric._value
        if type(value) is MutexValue:

            def inc(amount: float = 1, exemplar: object = None) -> None:
                if amount < 0 or exemplar is not None:
                    Counter.inc(metric, amount, exemplar)  # type: ignore[arg-type]
                    return
                value._value += amount

            metric.inc = inc  # type: ignore[method-assign]
    return metric
