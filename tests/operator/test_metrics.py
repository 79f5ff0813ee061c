"""The operator's /metrics: every metric of the one table is exported, per-pool gauges follow the pools."""

from __future__ import annotations

import socket

import httpx
import pytest
from noetl_operator.cli import main
from noetl_operator.metrics import CONTENT_TYPE, METRICS, OperatorMetrics, PoolSample, bind_socket, serve_metrics

pytestmark = pytest.mark.unit


def _status(ready: str, pending: int) -> dict[str, object]:
    return {
        "replicas": 2,
        "readyReplicas": 1,
        "lag": {"numPending": pending, "numAckPending": 1, "total": pending + 1},
        "conditions": [{"type": "Ready", "status": ready}, {"type": "ConsumerReady", "status": "True"}],
    }


def _sample(name: str, ready: str = "True", pending: int = 5) -> PoolSample:
    return PoolSample("team", name, _status(ready, pending), 1, 4, 10, dead_letters=2)


async def test_every_metric_of_the_table_is_served_over_http() -> None:
    metrics = OperatorMetrics()
    metrics.reconciled(_sample("a"), "uid-a", "ok", 0.02)
    metrics.failed("team", "a", 0.5)
    metrics.applies.labels(kind="Deployment").inc()
    metrics.drift_repairs.labels(namespace="team", pool="a", kind="Deployment").inc()
    metrics.api_errors.labels(code="409").inc()
    sock = bind_socket("127.0.0.1:0")
    port = sock.getsockname()[1]
    runner = await serve_metrics(metrics, sock)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
            assert (await client.get(f"http://127.0.0.1:{port}/other")).status_code == 404
    finally:
        await runner.cleanup()
    assert response.headers["content-type"] == CONTENT_TYPE
    text = response.text
    for spec in METRICS:
        assert f"# TYPE {spec.name} {spec.kind}" in text, spec.name
    assert 'noetl_operator_reconciles_total{namespace="team",outcome="error",pool="a"} 1.0' in text
    assert 'noetl_operator_consumer_pending_messages{namespace="team",pool="a"} 5.0' in text
    assert 'noetl_operator_dead_letter_messages{namespace="team",pool="a"} 2.0' in text
    assert "_created" not in text


def test_pool_gauges_follow_the_last_reconciliation_and_vanish_with_the_pool() -> None:
    metrics = OperatorMetrics()
    metrics.reconciled(_sample("a", "True"), "uid-a", "ok", 0.01)
    metrics.reconciled(_sample("b", "False", pending=7), "uid-b", "ok", 0.01)

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("noetl_operator_pools", condition="Ready", status="True") == 1
    assert value("noetl_operator_pools", condition="Ready", status="False") == 1
    assert value("noetl_operator_pools", condition="ConsumerReady", status="True") == 2
    assert value("noetl_operator_pool_condition", namespace="team", pool="b", condition="Ready", status="False") == 1
    assert value("noetl_operator_pool_condition", namespace="team", pool="b", condition="Ready", status="True") == 0
    metrics.reconciled(_sample("b", "True", pending=0), "uid-b", "ok", 0.01)
    assert value("noetl_operator_consumer_pending_messages", namespace="team", pool="b") == 0
    assert value("noetl_operator_pools", condition="Ready", status="True") == 2
    metrics.forget("uid-b", "team", "b")
    assert value("noetl_operator_pool_replicas", namespace="team", pool="b") is None
    assert value("noetl_operator_reconciles_total", namespace="team", pool="b", outcome="ok") is None
    assert value("noetl_operator_pool_max_replicas", namespace="team", pool="a") == 4


def test_a_bind_address_that_cannot_be_served_is_named_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="host:port"):
        bind_socket("9090")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        assert main(["run", "--standalone", "--metrics-bind", address]) == 2
    finally:
        taken.close()
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"noetl-operator run: cannot serve metrics on '{address}'")
    assert len(err.splitlines()) == 1
