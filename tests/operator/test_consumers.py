"""JetStream consumer management against a real nats-server: managed creates/updates, observe only reads."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js.errors import NotFoundError
from noetl_operator.builders import build_children
from noetl_operator.consumers import (
    NatsAccess,
    dead_letter_stream_name,
    dead_letter_subjects,
    delete_managed,
    reconcile_consumer,
    worker_dead_letter_subject,
)
from noetl_operator.spec import NoetlWorkerPool, parse_pool

from tests.operator.conftest import nats_connect
from tests.support.nats import NatsServer, free_port

pytestmark = pytest.mark.integration

_counter = itertools.count()


def make_pool(**consumer: Any) -> NoetlWorkerPool:
    """A pool on its own stream (unique per test: the nats-server is shared by the session)."""
    index = next(_counter)
    return parse_pool(
        {
            "apiVersion": "noetl.io/v1alpha1",
            "kind": "NoetlWorkerPool",
            "metadata": {"name": f"p{index}", "namespace": "ns"},
            "spec": {
                "image": {"tag": "1"},
                "nats": {"stream": f"CMD_{index}", "subject": f"cmd{index}"},
                "consumer": {"durableName": f"pool_{index}", "filterSubject": f"cmd{index}.shared.>", **consumer},
            },
        }
    )


@pytest.fixture
async def client(nats_server: NatsServer) -> AsyncIterator[Client]:
    connection = await nats_connect(nats_server.url)
    yield connection
    await connection.close()


async def add_stream(client: Client, pool: NoetlWorkerPool) -> None:
    await client.jetstream().add_stream(name=pool.spec.nats.stream, subjects=[f"{pool.spec.nats.subject}.>"])


async def test_managed_creates_the_durable_to_the_spec(nats_server: NatsServer, client: Client) -> None:
    pool = make_pool(management="managed", ackWaitSeconds=45, maxDeliver=4, maxAckPending=77, backoffSeconds=[1, 5])
    await add_stream(client, pool)
    report = await reconcile_consumer(pool, NatsAccess(nats_server.url))
    assert (report.ready, report.reason) == (True, "Created")
    info = await client.jetstream().consumer_info(pool.spec.nats.stream, pool.spec.consumer.durable_name)
    assert info.config.filter_subject == "cmd" + pool.metadata.name[1:] + ".shared.>"
    assert (info.config.max_deliver, info.config.max_ack_pending) == (4, 77)
    # JetStream takes the first backoff step as the ack wait when a backoff list is given.
    assert (info.config.backoff, info.config.ack_wait) == ([1.0, 5.0], 1.0)
    again = await reconcile_consumer(pool, NatsAccess(nats_server.url))
    assert (again.ready, again.reason, again.message) == (True, "InSync", "durable matches the spec")


async def test_managed_updates_a_drifted_durable(nats_server: NatsServer, client: Client) -> None:
    pool = make_pool(management="managed", maxAckPending=10, ackWaitSeconds=45)
    await add_stream(client, pool)
    await reconcile_consumer(pool, NatsAccess(nats_server.url))
    changed = pool.model_copy(
        update={
            "spec": pool.spec.model_copy(
                update={"consumer": pool.spec.consumer.model_copy(update={"max_ack_pending": 20})}
            )
        }
    )
    report = await reconcile_consumer(changed, NatsAccess(nats_server.url))
    assert (report.ready, report.reason) == (True, "Updated")
    assert "max_ack_pending" in report.message
    info = await client.jetstream().consumer_info(pool.spec.nats.stream, pool.spec.consumer.durable_name)
    assert (info.config.max_ack_pending, info.config.ack_wait) == (20, 45.0)


async def test_lag_is_pending_plus_ack_pending(nats_server: NatsServer, client: Client) -> None:
    pool = make_pool(management="managed")
    await add_stream(client, pool)
    await reconcile_consumer(pool, NatsAccess(nats_server.url))
    js = client.jetstream()
    for index in range(5):
        await js.publish(f"{pool.spec.nats.subject}.shared.e{index}", b"{}")
    subscription = await js.pull_subscribe_bind(pool.spec.consumer.durable_name, stream=pool.spec.nats.stream)
    messages = await subscription.fetch(2, timeout=2)
    assert len(messages) == 2
    report = await reconcile_consumer(pool, NatsAccess(nats_server.url))
    assert (report.num_pending, report.num_ack_pending) == (3, 2)


async def test_terminated_messages_land_in_the_dead_letter_stream(nats_server: NatsServer, client: Client) -> None:
    pool = make_pool(management="managed")
    await add_stream(client, pool)
    await reconcile_consumer(pool, NatsAccess(nats_server.url))
    js = client.jetstream()
    await js.publish(f"{pool.spec.nats.subject}.shared.poison", b"not a pointer")
    subscription = await js.pull_subscribe_bind(pool.spec.consumer.durable_name, stream=pool.spec.nats.stream)
    (message,) = await subscription.fetch(1, timeout=2)
    await message.term()
    dead_letters = dead_letter_stream_name(pool)
    for _ in range(50):
        if (await js.stream_info(dead_letters)).state.messages == 1:
            break
        await asyncio.sleep(0.05)
    advisory = await js.get_msg(dead_letters, 1)
    assert advisory.subject.startswith("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.")
    assert b'"stream_seq":1' in (advisory.data or b"").replace(b" ", b"")


async def test_observe_never_creates_and_reports_the_missing_durable(nats_server: NatsServer, client: Client) -> None:
    pool = make_pool(management="observe")
    await add_stream(client, pool)
    report = await reconcile_consumer(pool, NatsAccess(nats_server.url))
    assert (report.ready, report.reason) == (False, "ConsumerMissing")
    with pytest.raises(NotFoundError):
        await client.jetstream().consumer_info(pool.spec.nats.stream, pool.spec.consumer.durable_name)


async def test_observe_reads_lag_and_flags_a_wrong_filter(nats_server: NatsServer, client: Client) -> None:
    pool = make_pool(management="observe")
    await add_stream(client, pool)
    js = client.jetstream()
    await js.add_consumer(
        pool.spec.nats.stream, durable_name=pool.spec.consumer.durable_name, filter_subject=pool.spec.filter_subject
    )
    await js.publish(f"{pool.spec.nats.subject}.shared.x", b"{}")
    report = await reconcile_consumer(pool, NatsAccess(nats_server.url))
    assert (report.ready, report.reason, report.num_pending) == (True, "Observed", 1)
    other = make_pool(management="observe")
    await add_stream(client, other)
    await js.add_consumer(
        other.spec.nats.stream,
        durable_name=other.spec.consumer.durable_name,
        filter_subject=f"{other.spec.nats.subject}.system.>",
    )
    mismatch = await reconcile_consumer(other, NatsAccess(nats_server.url))
    assert (mismatch.ready, mismatch.reason) == (False, "FilterMismatch")


async def test_missing_stream_is_reported_not_created(nats_server: NatsServer) -> None:
    pool = make_pool(management="managed")
    report = await reconcile_consumer(pool, NatsAccess(nats_server.url))
    assert (report.ready, report.reason) == (False, "StreamMissing")


async def test_unreachable_nats_is_a_report_not_an_exception() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    report = await reconcile_consumer(make_pool(), NatsAccess(url, connect_timeout=0.5))
    assert (report.ready, report.reason) == (False, "NatsUnavailable")
    assert f"nats: cannot connect to {url.removeprefix('nats://')}: " in report.message


async def test_deletion_honours_prevent_delete(nats_server: NatsServer, client: Client) -> None:
    kept = make_pool(management="managed")
    gone = make_pool(management="managed", preventDelete=False)
    for pool in (kept, gone):
        await add_stream(client, pool)
        await reconcile_consumer(pool, NatsAccess(nats_server.url))
    assert (await delete_managed(kept, NatsAccess(nats_server.url))).reason == "Kept"
    assert (await delete_managed(gone, NatsAccess(nats_server.url))).reason == "Deleted"
    js = client.jetstream()
    await js.consumer_info(kept.spec.nats.stream, kept.spec.consumer.durable_name)
    with pytest.raises(NotFoundError):
        await js.consumer_info(gone.spec.nats.stream, gone.spec.consumer.durable_name)
    assert (await delete_managed(gone, NatsAccess(nats_server.url))).reason == "AlreadyGone"


async def test_the_workers_dead_letter_copies_land_in_the_dead_letter_stream(
    nats_server: NatsServer, client: Client
) -> None:
    pool = make_pool(management="managed")
    await add_stream(client, pool)
    await reconcile_consumer(pool, NatsAccess(nats_server.url))
    js = client.jetstream()
    await js.publish(worker_dead_letter_subject(pool), b'{"reason": "undecodable pointer"}')
    copy = await js.get_msg(dead_letter_stream_name(pool), 1)
    assert copy.data == b'{"reason": "undecodable pointer"}'


def test_the_worker_is_told_the_subject_the_dead_letter_stream_captures() -> None:
    pool = make_pool(management="managed")
    container = build_children(pool).deployment["spec"]["template"]["spec"]["containers"][0]
    env = {entry["name"]: entry.get("value") for entry in container["env"]}
    assert env["NATS_DEAD_LETTER_SUBJECT"] == worker_dead_letter_subject(pool)
    assert worker_dead_letter_subject(pool) in dead_letter_subjects(pool)


async def test_deletion_with_nats_unreachable_is_a_report() -> None:
    pool = make_pool(management="managed", preventDelete=False)
    report = await delete_managed(pool, NatsAccess(f"nats://127.0.0.1:{free_port()}", connect_timeout=0.5))
    assert (report.ready, report.reason) == (False, "NatsUnavailable")
