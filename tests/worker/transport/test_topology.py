"""Get-or-create the stream and consumer on a real nats-server; never change a foreign consumer silently."""

from __future__ import annotations

import logging

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from noetl_worker.settings import WorkerSettings, load_settings
from noetl_worker.transport.topology import TopologyError, ensure_topology

pytestmark = pytest.mark.integration


async def test_missing_stream_and_consumer_are_created(nc: NATS, settings: WorkerSettings) -> None:
    js = nc.jetstream()
    topology = await ensure_topology(js, settings)
    stream = await js.stream_info(settings.nats_stream)
    assert stream.config.subjects == [settings.nats_subject, f"{settings.nats_subject}.>"]
    consumer = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    assert consumer.config.ack_policy == AckPolicy.EXPLICIT
    assert consumer.config.filter_subject == settings.nats_subject
    assert consumer.config.ack_wait == 300
    assert consumer.config.max_deliver == 1000
    assert topology.ack_wait == 300
    # A second worker finds both and changes nothing.
    assert await ensure_topology(js, settings) == topology


async def test_a_foreign_consumer_is_used_unchanged_and_drift_is_logged(
    nc: NATS, settings: WorkerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=settings.nats_stream, subjects=[f"{settings.nats_subject}.>"]))
    await js.add_consumer(
        settings.nats_stream,
        ConsumerConfig(durable_name=settings.nats_consumer, ack_policy=AckPolicy.EXPLICIT, ack_wait=45, max_deliver=5),
    )
    with caplog.at_level(logging.WARNING, logger="noetl_worker.transport"):
        topology = await ensure_topology(js, settings)
    assert topology.ack_wait == 45
    info = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    assert (info.config.ack_wait, info.config.max_deliver) == (45, 5)
    assert "differs from this worker's settings" in caplog.text
    assert "ack_wait=45" in caplog.text
    # The stream subjects are not widened either.
    assert (await js.stream_info(settings.nats_stream)).config.subjects == [f"{settings.nats_subject}.>"]


async def test_reconcile_updates_a_drifted_consumer(nc: NATS, settings: WorkerSettings, names: dict[str, str]) -> None:
    js = nc.jetstream()
    await ensure_topology(js, settings)
    await js.add_consumer(
        settings.nats_stream,
        ConsumerConfig(
            durable_name=settings.nats_consumer, ack_policy=AckPolicy.EXPLICIT, ack_wait=45,
            filter_subject=settings.nats_subject,
        ),
    )  # fmt: skip
    reconciling = load_settings({"NATS_URL": settings.nats_url, "NATS_RECONCILE_CONSUMER": "true", **names})
    topology = await ensure_topology(js, reconciling)
    assert topology.ack_wait == 300


async def test_a_push_consumer_is_a_clear_startup_error(nc: NATS, settings: WorkerSettings) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=settings.nats_stream, subjects=[settings.nats_subject]))
    await js.add_consumer(
        settings.nats_stream,
        ConsumerConfig(durable_name=settings.nats_consumer, deliver_subject="push.here", ack_policy=AckPolicy.EXPLICIT),
    )
    with pytest.raises(TopologyError, match="is a push consumer"):
        await ensure_topology(js, settings)
