"""Pointer messages on a real nats-server: the stream, the message, routing and re-publication."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobCommandSpec, JobSpec
from noetl_wire.pointer import CommandPointer, decode_pointer

from tests.standin.conftest import StandinFactory
from tests.standin.helpers import claim, done_batch
from tests.support.nats import NatsServer
from tests.support.standin import StandinStartError

pytestmark = pytest.mark.integration


@dataclass
class Bus:
    js: JetStreamContext
    stream: str
    subject: str

    async def pointers(
        self, count: int, *, timeout: float = 5.0, filter_subject: str | None = None
    ) -> list[tuple[str, CommandPointer]]:
        """Fetch ``count`` pointers through a fresh durable consumer (from the start of the stream)."""
        durable = f"c{uuid.uuid4().hex[:8]}"
        sub = await self.js.pull_subscribe(filter_subject or self.subject, durable=durable, stream=self.stream)
        out: list[tuple[str, CommandPointer]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(out) < count and asyncio.get_running_loop().time() < deadline:
            try:
                for message in await sub.fetch(count - len(out), timeout=0.5):
                    assert message.headers is None, "the server publishes pointers without headers"
                    out.append((message.subject, decode_pointer(message.data)))
                    await message.ack()
            except nats.errors.TimeoutError:
                continue
        return out


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    nc = await nats.connect(nats_server.url)
    tag = uuid.uuid4().hex[:10]
    try:
        yield Bus(nc.jetstream(), f"T_{tag}", f"t{tag}.commands")
    finally:
        await nc.close()


def _settings(nats_server: NatsServer, bus: Bus, **extra: object) -> dict[str, object]:
    return {"nats_url": nats_server.url, "nats_stream": bus.stream, "nats_subject": bus.subject, **extra}


async def test_the_stream_is_created_like_the_server_creates_it(
    standin_factory: StandinFactory, nats_server: NatsServer, bus: Bus
) -> None:
    standin_factory(**_settings(nats_server, bus))
    info = await bus.js.stream_info(bus.stream)
    assert info.config.subjects == [bus.subject, f"{bus.subject}.>"]
    assert info.config.storage == StorageType.MEMORY
    assert info.config.max_age == 3600


async def test_an_existing_stream_is_widened_to_routed_subjects(
    standin_factory: StandinFactory, nats_server: NatsServer, bus: Bus
) -> None:
    await bus.js.add_stream(StreamConfig(name=bus.stream, subjects=[bus.subject], storage=StorageType.MEMORY))
    standin_factory(**_settings(nats_server, bus))
    assert (await bus.js.stream_info(bus.stream)).config.subjects == [bus.subject, f"{bus.subject}.>"]


async def test_issued_commands_are_announced_with_the_five_field_pointer(
    standin_factory: StandinFactory, nats_server: NatsServer, bus: Bus
) -> None:
    standin = standin_factory(**_settings(nats_server, bus))
    async with StandinAdmin(standin.url) as admin:
        job = await admin.submit_job([{"name": "a", "kind": "noop"}, {"name": "b", "kind": "noop"}])
        ((subject_a, first), (_, second)) = await bus.pointers(2)
    assert subject_a == bus.subject
    by_step = {p.step: p for p in (first, second)}
    for name, pointer in by_step.items():
        command = job.commands[name]
        assert (pointer.execution_id, pointer.event_id, pointer.command_id) == (
            job.execution_id,
            command.event_id,
            command.command_id,
        )
        assert pointer.server_url == standin.url


async def test_follow_up_commands_are_published_after_call_done(
    standin_factory: StandinFactory, nats_server: NatsServer, bus: Bus
) -> None:
    standin = standin_factory(**_settings(nats_server, bus))
    async with StandinAdmin(standin.url) as admin, httpx.AsyncClient(base_url=standin.url) as http:
        job = await admin.submit_job([{"name": "a", "kind": "noop"}, {"name": "b", "kind": "noop", "after": ["a"]}])
        ((_, first),) = await bus.pointers(1)
        assert first.step == "a"
        assert (await claim(http, first.event_id)).status_code == 200
        assert isinstance(first.command_id, int)
        await http.post("/api/events/batch", json=done_batch(job.execution_id, "a", first.command_id, response=1))
        pointers = await bus.pointers(2)
    assert [p.step for _, p in pointers] == ["a", "b"]


async def test_pool_routing_publishes_on_pool_and_execution_subjects(
    standin_factory: StandinFactory, nats_server: NatsServer, bus: Bus
) -> None:
    standin = standin_factory(**_settings(nats_server, bus, pool_routing=True))
    async with StandinAdmin(standin.url) as admin:
        job = await admin.submit_job([{"name": "a", "kind": "http"}, {"name": "b", "kind": "task_sequence"}])
        system = await admin.submit_job(JobSpec(commands=[JobCommandSpec(name="c", kind="noop")], path="system/x"))
        pointers = await bus.pointers(3, filter_subject=f"{bus.subject}.>")
    subjects = {p.step: s for s, p in pointers}
    assert subjects == {
        "a": f"{bus.subject}.shared.{job.execution_id}",
        "b": f"{bus.subject}.python.{job.execution_id}",
        "c": f"{bus.subject}.system.{system.execution_id}",
    }


async def test_unclaimed_commands_are_published_again_and_claimed_ones_are_not(
    standin_factory: StandinFactory, nats_server: NatsServer, bus: Bus
) -> None:
    standin = standin_factory(**_settings(nats_server, bus, republish_delay_seconds=0.3))
    async with StandinAdmin(standin.url) as admin, httpx.AsyncClient(base_url=standin.url) as http:
        job = await admin.submit_job([{"name": "lonely", "kind": "noop"}, {"name": "taken", "kind": "noop"}])
        await claim(http, job.commands["taken"].event_id)
        await asyncio.sleep(1.0)
        counters = await admin.counters()
    pointers = [p for _, p in await bus.pointers(10, timeout=1.5)]
    lonely = [p for p in pointers if p.step == "lonely"]
    assert len(lonely) >= 2, "duplicates of an unclaimed command are normal"
    assert len({p.event_id for p in lonely}) == 1
    assert len([p for p in pointers if p.step == "taken"]) == 1
    assert counters["publish"]["republished"] >= 1


async def test_an_orphaned_claim_is_published_again_for_takeover(
    standin_factory: StandinFactory, nats_server: NatsServer, bus: Bus
) -> None:
    standin = standin_factory(
        **_settings(nats_server, bus, claim_lease_seconds=0.2, reaper_interval_seconds=0.2, republish_delay_seconds=0)
    )
    async with StandinAdmin(standin.url) as admin, httpx.AsyncClient(base_url=standin.url) as http:
        job = await admin.submit_job([{"name": "orphan", "kind": "noop"}])
        await claim(http, job.commands["orphan"].event_id, "crashed-worker")
        await asyncio.sleep(0.8)
        pointers = await bus.pointers(2)
        assert len(pointers) == 2
        assert (await claim(http, job.commands["orphan"].event_id, "rescuer")).status_code == 200


async def test_a_forced_publish_delivers_a_duplicate(
    standin_factory: StandinFactory, nats_server: NatsServer, bus: Bus
) -> None:
    standin = standin_factory(**_settings(nats_server, bus))
    async with StandinAdmin(standin.url) as admin:
        job = await admin.submit_job([{"name": "a", "kind": "noop"}])
        event_id = job.commands["a"].event_id
        assert event_id is not None
        assert await admin.publish(event_id) is True
        pointers = await bus.pointers(2)
    assert [p.event_id for _, p in pointers] == [event_id, event_id]


async def test_an_unreachable_nats_fails_the_start_with_a_clear_message(standin_factory: StandinFactory) -> None:
    with pytest.raises(StandinStartError, match="cannot connect to NATS"):
        standin_factory(nats_url="nats://127.0.0.1:1", timeout=20)


async def test_publishing_recovers_after_a_nats_server_restart(
    standin_factory: StandinFactory, private_nats_server: NatsServer
) -> None:
    standin = standin_factory(
        nats_url=private_nats_server.url,
        nats_stream="T_RESTART",
        nats_subject="restart.commands",
        republish_delay_seconds=0.5,
    )
    async with StandinAdmin(standin.url) as admin:
        await admin.submit_job([{"name": "before", "kind": "noop"}])
        await asyncio.to_thread(private_nats_server.restart)
        # The memory stream died with the server; the stand-in must recreate it and deliver anyway.
        job = await admin.submit_job([{"name": "after", "kind": "noop"}])
        nc = await nats.connect(private_nats_server.url)
        try:
            bus = Bus(nc.jetstream(), "T_RESTART", "restart.commands")
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                try:
                    await bus.js.stream_info("T_RESTART")
                    break
                except nats.js.errors.NotFoundError:
                    assert asyncio.get_running_loop().time() < deadline, "stream never recreated"
                    await asyncio.sleep(0.2)
            pointers = await bus.pointers(2, timeout=10)
        finally:
            await nc.close()
    # Both commands are still unclaimed, so both are (re-)published into the recreated stream.
    assert job.commands["after"].event_id in {p.event_id for _, p in pointers}
    assert {p.step for _, p in pointers} == {"before", "after"}
    assert standin.alive()


async def test_the_stand_in_survives_nats_going_away_and_stops_promptly(
    standin_factory: StandinFactory, private_nats_server: NatsServer
) -> None:
    standin = standin_factory(nats_url=private_nats_server.url, nats_stream="T_GONE", nats_subject="gone.commands")
    private_nats_server.kill()
    async with StandinAdmin(standin.url) as admin, httpx.AsyncClient(base_url=standin.url) as http:
        job = await admin.submit_job([{"name": "a", "kind": "noop"}])
        assert (await claim(http, job.commands["a"].event_id)).status_code == 200, "HTTP keeps working"
    started = asyncio.get_running_loop().time()
    await asyncio.to_thread(standin.stop)
    assert asyncio.get_running_loop().time() - started < 8
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete, so the process reports it.
    assert standin.process.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in standin.log()
