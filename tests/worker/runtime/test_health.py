"""``/metrics``, ``/healthz``, ``/readyz`` over real HTTP from the tiny asyncio server."""

from __future__ import annotations

import httpx
import pytest
from noetl_worker.runtime.health import HealthServer
from noetl_worker.runtime.metrics import WorkerMetrics

pytestmark = pytest.mark.unit


async def test_endpoints() -> None:
    reasons: list[str] = ["not_registered"]
    metrics = WorkerMetrics()
    metrics.pulls.labels(outcome="claimed").inc()
    server = HealthServer("127.0.0.1", 0, metrics, lambda: list(reasons))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            health = await client.get("/healthz")
            assert (health.status_code, health.text) == (200, "ok")
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json() == {"ready": False, "reasons": ["not_registered"]}
            reasons.clear()
            assert (await client.get("/readyz")).json() == {"ready": True, "reasons": []}
            exposition = await client.get("/metrics")
            assert exposition.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
            assert 'noetl_worker_pulls_total{outcome="claimed"} 1.0' in exposition.text
            assert "_created" not in exposition.text
            assert (await client.get("/nope")).status_code == 404
            assert (await client.post("/metrics")).status_code == 405
    finally:
        await server.stop()


def test_the_seed_metric_inventory_is_exported() -> None:
    text = WorkerMetrics().exposition().decode()
    for name in (
        "noetl_worker_pull_duration_seconds", "noetl_worker_dispatch_duration_seconds",
        "noetl_worker_event_emit_duration_seconds", "noetl_worker_concurrent_dispatches",
        "noetl_worker_result_store_put_duration_seconds", "noetl_worker_result_store_put_bytes_total",
        "noetl_worker_result_store_put_errors_total", "noetl_worker_messages_dead_lettered_total",
    ):  # fmt: skip
        assert f"# TYPE {name} " in text, name
    assert 'le="120.0"' not in text  # dispatch buckets appear only once a tool kind was observed
