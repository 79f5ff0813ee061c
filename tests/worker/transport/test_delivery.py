"""Message dispositions on a real nats-server: term with a dead-letter copy, retry of an unconfirmed copy,
and the counters."""

from __future__ import annotations

import asyncio
import json
import logging

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StreamConfig
from noetl_worker.runtime.metrics import WorkerMetrics
from noetl_worker.scrub import Scrubber
from noetl_worker.settings import WorkerSettings, load_settings
from noetl_worker.transport.delivery import DEAD_LETTER_DELIVERIES, DeadLetters, Delivery
from noetl_worker.transport.topology import ensure_topology

from tests.support.nats_cluster import running_nats_cluster
from tests.worker.runtime.support import wait_until

pytestmark = pytest.mark.integration


async def one_delivery(
    nc: NATS, settings: WorkerSettings, body: bytes | None, metrics: WorkerMetrics | None = None
) -> tuple[Delivery, WorkerMetrics]:
    """Publish ``body`` (``None``: publish nothing, take the next delivery) and fetch one delivery."""
    js = nc.jetstream()
    await ensure_topology(js, settings)
    if body is not None:
        await js.publish(settings.nats_subject, body)
    sub = await js.pull_subscribe_bind(settings.nats_consumer, settings.nats_stream)
    (msg,) = await sub.fetch(1, timeout=15)
    await sub.unsubscribe()
    metrics = metrics or WorkerMetrics()
    dead_letters = DeadLetters(
        nc, js, settings.dead_letter_subject, settings.nats_stream, settings.nats_consumer, "w-test",
        Scrubber(["hunter2-secret"]),
    )  # fmt: skip
    return Delivery(msg, metrics, dead_letters), metrics


async def settled(nc: NATS, settings: WorkerSettings, within: float = 10.0) -> tuple[int, int]:
    """(undelivered, delivered but unsettled) once the consumer has processed the acks we sent, or as they
    stand after ``within`` seconds. Polled, not read once after a flush: the flush's PONG says the server
    *read* the ack (a plain publish with no reply), but JetStream hands acks to the consumer's own queue and
    applies them later, so a consumer_info right after the flush can still count the message as unsettled
    (seen once in CI under a full ``make test``: ``(0, 1)``)."""
    await nc.flush()
    js = nc.jetstream()
    deadline = asyncio.get_running_loop().time() + within
    while True:
        info = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
        counts = (info.num_pending, info.num_ack_pending)
        if counts == (0, 0) or asyncio.get_running_loop().time() >= deadline:
            return counts
        await asyncio.sleep(0.05)


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
    record = json.loads(stored.data or b"")
    assert record["reason"] == "command pointer is missing required field 'execution_id'"
    assert record["consumer"] == settings.nats_consumer
    assert record["stream_seq"] == delivery.stream_seq
    assert "hunter2-secret" not in record["data"]
    assert stored.headers is not None
    assert stored.headers["Noetl-Dead-Letter-Reason"].startswith("command pointer is missing")
    assert counter(metrics, "noetl_worker_messages_termed_total", reason="undecodable") == 1
    assert counter(metrics, "noetl_worker_messages_dead_lettered_total") == 1
    assert await settled(nc, settings) == (0, 0)  # terminated: never redelivered


async def test_without_a_dead_letter_stream_the_record_is_logged(
    nc: NATS, settings: WorkerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    delivery, _ = await one_delivery(nc, settings, b"\xff\xfe binary")
    with caplog.at_level(logging.ERROR, logger="noetl_worker.transport"):
        await delivery.term("undecodable", dead_letter="not JSON")
    assert "dead letter not stored durably" in caplog.text
    assert '"data_encoding": "base64"' in caplog.text


async def full_dead_letter_stream(nc: NATS, settings: WorkerSettings) -> str:
    """A dead-letter stream that exists but refuses every write (full, discard new)."""
    js = nc.jetstream()
    dlq = f"DLQ_{settings.nats_stream}"
    await js.add_stream(
        StreamConfig(name=dlq, subjects=[settings.dead_letter_subject], max_msgs=1, discard=DiscardPolicy.NEW)
    )
    await js.publish(settings.dead_letter_subject, b"filler")
    return dlq


async def test_an_unconfirmed_dead_letter_keeps_the_message_until_a_later_delivery_stores_it(
    nc: NATS, settings: WorkerSettings
) -> None:
    js = nc.jetstream()
    dlq = await full_dead_letter_stream(nc, settings)
    first, metrics = await one_delivery(nc, settings, b"not json")
    await first.term("undecodable", dead_letter="not JSON")
    assert counter(metrics, "noetl_worker_messages_naked_total", reason="dead_letter_unconfirmed") == 1
    assert counter(metrics, "noetl_worker_messages_termed_total", reason="undecodable") == 0
    assert counter(metrics, "noetl_worker_messages_dead_lettered_total") == 0

    # The dead-letter stream recovers; the redelivered message is stored there and only then terminated.
    await js.update_stream(StreamConfig(name=dlq, subjects=[settings.dead_letter_subject], max_msgs=-1))
    second, _ = await one_delivery(nc, settings, None, metrics)
    assert second.stream_seq == first.stream_seq
    assert second.num_delivered == 2
    await second.term("undecodable", dead_letter="not JSON")
    record = json.loads((await js.get_last_msg(dlq, settings.dead_letter_subject)).data or b"")
    assert (record["stream_seq"], record["num_delivered"]) == (first.stream_seq, 2)
    assert counter(metrics, "noetl_worker_messages_termed_total", reason="undecodable") == 1
    assert counter(metrics, "noetl_worker_messages_dead_lettered_total") == 1
    assert await settled(nc, settings) == (0, 0)


async def test_a_dead_letter_never_confirmed_is_logged_and_terminated_on_the_last_try(
    nc: NATS, settings: WorkerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    await full_dead_letter_stream(nc, settings)
    metrics = WorkerMetrics()
    body: bytes | None = b"still not json"
    for _ in range(DEAD_LETTER_DELIVERIES - 1):
        delivery, _ = await one_delivery(nc, settings, body, metrics)
        body = None
        await delivery.term("undecodable", dead_letter="not JSON")
    assert counter(metrics, "noetl_worker_messages_naked_total", reason="dead_letter_unconfirmed") == (
        DEAD_LETTER_DELIVERIES - 1
    )
    last, _ = await one_delivery(nc, settings, None, metrics)
    assert last.num_delivered == DEAD_LETTER_DELIVERIES
    with caplog.at_level(logging.ERROR, logger="noetl_worker.transport"):
        await last.term("undecodable", dead_letter="not JSON")
    assert "dead letter not stored durably (ServiceUnavailableError" in caplog.text
    assert "maximum messages exceeded" in caplog.text
    assert '"data": "still not json"' in caplog.text
    assert counter(metrics, "noetl_worker_messages_termed_total", reason="undecodable") == 1
    assert await settled(nc, settings) == (0, 0)


async def test_each_message_is_settled_once(nc: NATS, settings: WorkerSettings) -> None:
    delivery, metrics = await one_delivery(nc, settings, b"x")
    await delivery.ack("completed")
    await delivery.nak("late")
    await delivery.term("late")
    assert counter(metrics, "noetl_worker_messages_acked_total", reason="completed") == 1
    assert counter(metrics, "noetl_worker_messages_naked_total", reason="late") == 0
    assert delivery.settled


async def has_leader(js: JetStreamContext, stream: str, consumer: str | None = None) -> bool:
    """Whether the stream (or its consumer: a replicated consumer elects its own leader) has a leader."""
    try:
        info = await (js.consumer_info(stream, consumer, timeout=2) if consumer else js.stream_info(stream))
    except (NatsError, TimeoutError):
        return False
    return bool(info.cluster and info.cluster.leader)


async def test_a_dead_letter_stream_without_a_leader_keeps_the_message_until_it_has_one_again(
    names: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """In a cluster a stream listens on its subjects only on its leader: while it has none, a write finds
    no responders at all, which is not the same as no dead-letter stream."""
    with running_nats_cluster() as cluster:
        settings = load_settings({"NATS_URL": ",".join(cluster.urls), "WORKER_ID": "w-test", **names})
        admin = await nats.connect(servers=cluster.urls)
        js = admin.jetstream()
        await js.add_stream(StreamConfig(name=settings.nats_stream, subjects=[settings.nats_subject], num_replicas=3))
        await ensure_topology(js, settings)
        dlq = f"DLQ_{settings.nats_stream}"
        await js.add_stream(StreamConfig(name=dlq, subjects=[settings.dead_letter_subject], num_replicas=1))
        # One replica, on one node: losing that node leaves the stream without a leader.
        host = (await js.stream_info(dlq)).cluster.leader  # type: ignore[union-attr]
        await admin.close()
        assert host is not None
        cluster.node(host).kill()
        # The lost node may also have led the cluster's metadata; until the survivors elect a new meta
        # leader JetStream cannot say which stream captures the subject either, and the write stays
        # unconfirmed for that other reason (seen once in a full run). This test is about the stream.
        await asyncio.to_thread(cluster.wait_for_meta_leader)

        survivors = [node.url for name, node in cluster.nodes.items() if name != host]
        nc = await nats.connect(servers=survivors)
        try:
            js = nc.jetstream()
            await wait_until(
                lambda: has_leader(js, settings.nats_stream), timeout=30, what="the command stream elects a leader"
            )
            await wait_until(
                lambda: has_leader(js, settings.nats_stream, settings.nats_consumer),
                timeout=30,
                what="the consumer elects a leader",
            )
            await js.publish(settings.nats_subject, b"not json", timeout=10)
            first, metrics = await one_delivery(nc, settings, None)
            with caplog.at_level(logging.WARNING, logger="noetl_worker.transport"):
                await first.term("undecodable", dead_letter="not JSON")
            assert f"stream {dlq} captures the subject but no leader answered" in caplog.text
            assert counter(metrics, "noetl_worker_messages_naked_total", reason="dead_letter_unconfirmed") == 1
            assert counter(metrics, "noetl_worker_messages_termed_total", reason="undecodable") == 0

            cluster.node(host).start()
            await wait_until(lambda: has_leader(js, dlq), timeout=30, what="the dead-letter stream is back")
            second, _ = await one_delivery(nc, settings, None, metrics)
            assert (second.stream_seq, second.num_delivered) == (first.stream_seq, 2)
            await second.term("undecodable", dead_letter="not JSON")
            record = json.loads((await js.get_last_msg(dlq, settings.dead_letter_subject)).data or b"")
            assert (record["stream_seq"], record["reason"]) == (first.stream_seq, "not JSON")
            assert counter(metrics, "noetl_worker_messages_termed_total", reason="undecodable") == 1
            assert counter(metrics, "noetl_worker_messages_dead_lettered_total") == 1
        finally:
            await nc.close()
