"""Get-or-create the stream and consumer on a real nats-server; never change a foreign consumer silently."""

from __future__ import annotations

import logging

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from noetl_operator.consumers import desired_config
from noetl_operator.spec import parse_pool
from noetl_worker.settings import WorkerSettings, load_settings
from noetl_worker.transport.topology import TopologyError, ensure_topology, wanted_consumer

pytestmark = pytest.mark.integration


async def test_missing_stream_and_consumer_are_created(nc: NATS, settings: WorkerSettings) -> None:
    js = nc.jetstream()
    topology = await ensure_topology(js, settings)
    stream = await js.stream_info(settings.nats_stream)
    # Exactly as the NoETL server creates it (wire capture nats_jetstream_config.json): the stream belongs to
    # the control plane, so never file storage with unbounded retention.
    assert stream.config.subjects == [settings.nats_subject, f"{settings.nats_subject}.>"]
    assert (stream.config.storage, stream.config.max_age) == (StorageType.MEMORY, 3600)
    assert stream.config.retention == RetentionPolicy.LIMITS
    consumer = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    assert consumer.config.ack_policy == AckPolicy.EXPLICIT
    assert consumer.config.deliver_policy == DeliverPolicy.NEW
    assert consumer.config.filter_subject == settings.nats_subject
    assert consumer.config.ack_wait == 30
    assert (consumer.config.max_deliver, consumer.config.max_ack_pending) == (10, 1000)
    assert topology.ack_wait == 30
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
    await js.add_stream(StreamConfig(name=settings.nats_stream, subjects=[settings.nats_subject]))
    # An older durable (deliver all): JetStream refuses to change its deliver policy, the rest is reconciled.
    await js.add_consumer(
        settings.nats_stream,
        ConsumerConfig(
            durable_name=settings.nats_consumer, ack_policy=AckPolicy.EXPLICIT, ack_wait=45,
            filter_subject=settings.nats_subject,
        ),
    )  # fmt: skip
    reconciling = load_settings({"NATS_URL": settings.nats_url, "NATS_RECONCILE_CONSUMER": "true", **names})
    topology = await ensure_topology(js, reconciling)
    assert topology.ack_wait == 30
    info = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    assert (info.config.deliver_policy, info.config.max_ack_pending) == (DeliverPolicy.ALL, 1000)


async def test_a_push_consumer_is_a_clear_startup_error(nc: NATS, settings: WorkerSettings) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=settings.nats_stream, subjects=[settings.nats_subject]))
    await js.add_consumer(
        settings.nats_stream,
        ConsumerConfig(durable_name=settings.nats_consumer, deliver_subject="push.here", ack_policy=AckPolicy.EXPLICIT),
    )
    with pytest.raises(TopologyError, match="is a push consumer"):
        await ensure_topology(js, settings)


async def test_a_new_consumer_does_not_replay_the_stream_s_history(nc: NATS, settings: WorkerSettings) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=settings.nats_stream, subjects=[settings.nats_subject]))
    for n in range(5):  # an hour of pointers to commands that finished long ago
        await js.publish(settings.nats_subject, f"old-{n}".encode())
    await ensure_topology(js, settings)
    info = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    await js.publish(settings.nats_subject, b"new")
    assert (await js.consumer_info(settings.nats_stream, settings.nats_consumer)).num_pending == 1


def test_the_worker_and_the_operator_create_the_same_durable(settings: WorkerSettings) -> None:
    pool = parse_pool({
        "apiVersion": "noetl.io/v1alpha1", "kind": "NoetlWorkerPool",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"image": {"tag": "1"}, "nats": {"stream": settings.nats_stream, "subject": settings.nats_subject},
                 "consumer": {"durableName": settings.nats_consumer}},
    })  # fmt: skip
    ours, theirs = wanted_consumer(settings), desired_config(pool)
    for field in ("durable_name", "deliver_policy", "ack_policy", "ack_wait", "max_deliver", "max_ack_pending",
                  "filter_subject", "replay_policy"):  # fmt: skip
        assert getattr(ours, field) == getattr(theirs, field), field
