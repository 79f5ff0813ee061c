"""The pull feed on a real nats-server: requests sized to free slots, long-poll (no polling), self-healing."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import NotFoundError
from noetl_worker.settings import WorkerSettings
from noetl_worker.transport.pull import PullFeed
from noetl_worker.transport.topology import ensure_topology

pytestmark = pytest.mark.integration


class Slots:
    """Capacity bookkeeping as the dispatcher does it: a delivered message holds a slot until released."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.held: list[Msg] = []
        self.arrived = asyncio.Event()

    def capacity(self) -> int:
        return self.size - len(self.held)

    def accept(self, msg: Msg) -> None:
        self.held.append(msg)
        self.arrived.set()


async def wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def start_feed(
    nc: NATS, settings: WorkerSettings, slots: Slots, expiry: float = 2.0
) -> tuple[PullFeed, asyncio.Event, asyncio.Task[None]]:
    js = nc.jetstream()
    await ensure_topology(js, settings)

    async def recreate() -> None:
        await ensure_topology(js, settings)

    feed = PullFeed(
        nc, stream=settings.nats_stream, consumer=settings.nats_consumer, expiry=expiry,
        capacity=slots.capacity, on_message=slots.accept, recreate_topology=recreate,
    )  # fmt: skip
    await feed.start()
    stopping = asyncio.Event()
    return feed, stopping, asyncio.get_running_loop().create_task(feed.run(stopping))


async def stop_feed(feed: PullFeed, stopping: asyncio.Event, task: asyncio.Task[None]) -> None:
    stopping.set()
    await asyncio.wait_for(task, 5)
    await feed.close()


async def test_never_more_messages_than_free_slots(nc: NATS, settings: WorkerSettings) -> None:
    slots = Slots(2)
    feed, stopping, task = await start_feed(nc, settings, slots)
    js = nc.jetstream()
    for i in range(5):
        await js.publish(settings.nats_subject, str(i).encode())
    await wait_for(lambda: len(slots.held) == 2)
    await asyncio.sleep(0.3)
    assert len(slots.held) == 2  # the rest waits on the server, not in this process
    for msg in slots.held:
        await msg.ack()
    slots.held.clear()
    feed.wake()
    await wait_for(lambda: len(slots.held) == 2)
    slots.size = 10
    feed.wake()
    await wait_for(lambda: len(slots.held) == 3)
    assert sorted(m.data for m in slots.held) == [b"2", b"3", b"4"]
    await stop_feed(feed, stopping, task)


async def test_an_idle_feed_long_polls_instead_of_polling(nc: NATS, settings: WorkerSettings) -> None:
    slots = Slots(4)
    feed, stopping, task = await start_feed(nc, settings, slots, expiry=0.5)
    await asyncio.sleep(1.6)
    # One request per expiry period (plus the first), not ten polls per second.
    assert 2 <= feed.requests_sent <= 5
    started = asyncio.get_running_loop().time()
    await nc.jetstream().publish(settings.nats_subject, b"now")
    await asyncio.wait_for(slots.arrived.wait(), 2)
    assert asyncio.get_running_loop().time() - started < 0.1  # delivered on the open request, no poll delay
    await stop_feed(feed, stopping, task)


async def consumer_exists(js: JetStreamContext, settings: WorkerSettings) -> bool:
    try:
        await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    except NotFoundError:
        return False
    return True


async def test_a_deleted_consumer_is_recreated_and_the_feed_continues(nc: NATS, settings: WorkerSettings) -> None:
    slots = Slots(1)
    feed, stopping, task = await start_feed(nc, settings, slots, expiry=0.5)
    js = nc.jetstream()
    await js.delete_consumer(settings.nats_stream, settings.nats_consumer)
    # The recreated consumer delivers what is published after it exists (deliver_policy=new; the control
    # plane re-publishes what was pending), so publish once the feed has recreated it — not after a fixed
    # sleep, which a loaded machine outlasts (the message then predates the consumer and never comes).
    deadline = asyncio.get_running_loop().time() + 15
    while not await consumer_exists(js, settings):
        assert asyncio.get_running_loop().time() < deadline, "the feed did not recreate the deleted consumer"
        await asyncio.sleep(0.1)
    await js.publish(settings.nats_subject, b"after")
    await wait_for(lambda: len(slots.held) == 1, timeout=10)
    assert slots.held[0].data == b"after"
    await stop_feed(feed, stopping, task)


async def test_a_refused_request_pauses_instead_of_spinning(nc: NATS, settings: WorkerSettings) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=settings.nats_stream, subjects=[settings.nats_subject]))
    await js.add_consumer(
        settings.nats_stream,
        ConsumerConfig(durable_name=settings.nats_consumer, ack_policy=AckPolicy.EXPLICIT, max_waiting=1),
    )
    slots = Slots(2)
    feed, stopping, task = await start_feed(nc, settings, slots, expiry=5.0)
    await js.publish(settings.nats_subject, b"one")
    await wait_for(lambda: len(slots.held) == 1)
    await slots.held.pop().ack()
    feed.wake()  # a second request while the first is still open: the server refuses it (max_waiting=1)
    await asyncio.sleep(1.5)
    assert feed.requests_sent <= 4
    await js.publish(settings.nats_subject, b"two")
    await wait_for(lambda: len(slots.held) == 1)
    assert slots.held[0].data == b"two"
    await stop_feed(feed, stopping, task)
