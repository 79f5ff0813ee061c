"""The per-command metrics' lock-free updates expose exactly what prometheus-client's own methods do."""

from __future__ import annotations

import pytest
from noetl_worker.runtime.metrics import WorkerMetrics
from prometheus_client import Histogram

pytestmark = pytest.mark.unit

# Below, on and above bucket bounds (0.001 ... 10 and +Inf), zero, and one far past the last bound.
AMOUNTS = [0.0, 0.0004, 0.001, 0.0010001, 0.0049, 0.025, 0.3, 1.0, 2.5, 7.0, 10.0, 11.0, 1e9]


def test_fast_updates_expose_what_prometheus_client_writes() -> None:
    fast, reference = WorkerMetrics(), WorkerMetrics()
    for amount in AMOUNTS:
        fast.labelled(fast.event_emit_duration, "call.done").observe(amount)
        reference.event_emit_duration.labels(event_type="call.done").observe(amount)
        fast.control_plane_request("claim", "200", amount)
        reference.control_plane_request_duration.labels(endpoint="claim", code="200").observe(amount)
        fast.pull_duration.observe(amount)
        Histogram.observe(reference.pull_duration, amount)  # the class's method, not the lock-free one
        fast.labelled(fast.acked, "completed").inc()
        reference.acked.labels(reason="completed").inc()
    fast.labelled(fast.claims, "200").inc(2.5)
    reference.claims.labels(code="200").inc(2.5)
    assert fast.exposition() == reference.exposition()
    assert b'noetl_worker_messages_acked_total{reason="completed"} 13.0' in fast.exposition()


def test_a_negative_counter_increment_is_still_refused() -> None:
    metrics = WorkerMetrics()
    with pytest.raises(ValueError, match="negative"):
        metrics.labelled(metrics.acked, "completed").inc(-1)
