"""Prometheus metrics: the seed's names, labels and buckets, plus the message-disposition counters.

One :class:`WorkerMetrics` owns a private ``CollectorRegistry`` (not the global one), so tests and dev
mode can run several workers in one process without colliding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

__all__ = ["CONTENT_TYPE", "WorkerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The seed exports no `*_created` series; neither do we (they double the exposition for no reader).
disable_created_metrics()  # type: ignore[no-untyped-call]

_PULL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_DISPATCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_EMIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_PUT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

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
        self.pull_duration = Histogram(
            "noetl_worker_pull_duration_seconds", "Receive + claim time per message.", buckets=_PULL_BUCKETS, registry=r
        )
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

    def watch_slots(self, total: int, busy: Callable[[], int]) -> None:
        """Report ``total`` slots and read ``busy()`` at every scrape (never stale, no bookkeeping per command)."""
        self.slots_total.set(total)
        self.slots_busy.set_function(busy)

    def labelled(self, metric: _Metric, value: str) -> _Metric:
        """``metric.labels(value)`` for a one-label metric, the child cached: ``labels()`` checks its
        arguments and takes the metric's lock on every call, which the per-command path pays several times."""
        key = (id(metric), value)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(value)
        return child  # type: ignore[return-value]

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
