"""Message dispositions on a real nats-server: term with a dead-letter copy, and the counters."""

from __future__ import annotations

import json
import logging

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig
from noetl_worker.runtime.metrics import WorkerMetrics
from noetl_worker.scrub import Scrubber
from noetl_worker.settings import WorkerSettings
from noetl_worker.transport.delivery import DeadLetters, Delivery
from noetl_worker.transport.topology import ensure_topology

pytestmark = pytest.mark.integration


async def one_delivery(nc: NATS, settings: WorkerSettings, body: bytes) -> tuple[Delivery, WorkerMetrics]:
    js = nc.jetstream()
    await ensure_topology(js, settings)
    await js.publish(settings.nats_subject, body)
    sub = await js.pull_subscribe_bind(settings.nats_consumer, settings.nats_stream)
    (msg,) = await sub.fetch(1, timeout=5)
    metrics = WorkerMetrics()
    dead_letters = DeadLetters(
        nc, js, settings.dead_letter_subject, settings.nats_stream, settings.nats_consumer, "w-test",
        Scrubber(["hunter2-secret"]),
    )  # fmt: skip
    return Delivery(msg, metrics, dead_letters), metrics


def counter(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def test_term_copies_the_message_with_its_reason_to_the_dead_letter_stream(
    nc: NATS, settings: WorkerSettings
) -> None:
    js = nc.jetstream()
    dlq = f"DLQ_{settings.nats_stream}"
    await js.add_stream(StreamConfig(name=dlq, subjects=[settings.dead_letter_subject]))
    delivery, metrics = await one_delivery(nc, settings, b'{"not": "a pointer", "pw": "hunter2-secret"}')
    await delivery.term("undecodable", dead_letter="command pointer is missing required field 'execution_id'")
    stored = await js.get_last_msg(dlq, settings.dead_letter_subject)
    record = json.loads(stored.data)
    assert record["reason"] == "command pointer is missing required field 'execution_id'"
    assert record["consumer"] == settings.nats_consumer
    assert record["stream_seq"] == delivery.stream_seq
    assert "hunter2-secret" not in record["data"]
    assert stored.headers is not None
    assert stored.headers["Noetl-Dead-Letter-Reason"].startswith("command pointer is missing")
    assert counter(metrics, "noetl_worker_messages_termed_total", reason="undecodable") == 1
    assert counter(metrics, "noetl_worker_messages_dead_lettered_total") == 1
    info = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    assert info.num_ack_pending == 0  # terminated: never redelivered


async def test_without_a_dead_letter_stream_the_record_is_logged(
    nc: NATS, settings: WorkerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    delivery, _ = await one_delivery(nc, settings, b"\xff\xfe binary")
    with caplog.at_level(logging.ERROR, logger="noetl_worker.transport"):
        await delivery.term("undecodable", dead_letter="not JSON")
    assert "dead letter not stored durably" in caplog.text
    assert '"data_encoding": "base64"' in caplog.text


async def test_each_message_is_settled_once(nc: NATS, settings: WorkerSettings) -> None:
    delivery, metrics = await one_delivery(nc, settings, b"x")
    await delivery.ack("completed")
    await delivery.nak("late")
    await delivery.term("late")
    assert counter(metrics, "noetl_worker_messages_acked_total", reason="completed") == 1
    assert counter(metrics, "noetl_worker_messages_naked_total", reason="late") == 0
    assert delivery.settled
