"""Claiming a command, from the wire: 200 / 404 / 409 active_claim / 409 already_terminal / takeover."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_wire.commands import ClaimedCommand, CommandView
from noetl_wire.errors import ErrorCode, parse_error_code

from tests.standin.conftest import StandinFactory
from tests.standin.helpers import claim, done_batch, issue_one, started_batch

pytestmark = pytest.mark.integration


async def test_a_claim_returns_the_command_the_worker_must_run(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job, command = await issue_one(admin, kind="python", tool_config={"code": "result = 1"}, input={"x": 1})
    response = await http.post(
        f"/api/commands/{command.event_id}/claim",
        json={"worker_id": "w-1", "locality": {"worker_pool": "p", "runtime": "python"}},
    )
    assert response.status_code == 200
    claimed = ClaimedCommand.model_validate_json(response.content)
    assert (claimed.status, claimed.event_id, claimed.execution_id) == ("ok", command.event_id, job.execution_id)
    assert (claimed.node_name, claimed.node_id, claimed.action) == ("step", "step", "python")
    assert claimed.command_id == command.command_id
    assert claimed.context.tool_config == {"code": "result = 1"}
    assert claimed.context.input == {"x": 1}
    assert claimed.meta.attempt == 1
    assert claimed.meta.execution_id == job.execution_id
    assert response.json()["meta"]["execution_id"] == str(job.execution_id), "server sends meta ids as strings"
    assert claimed.command_id > 2**53, "ids exceed 2^53 like real snowflakes"


async def test_a_claim_writes_command_claimed_with_the_worker(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job, command = await issue_one(admin)
    await http.post(f"/api/commands/{command.event_id}/claim", json={"worker_id": "w-1", "locality": {"zone": "z"}})
    (claimed,) = await admin.events(job.execution_id, name="command.claimed")
    assert claimed["worker_id"] == "w-1"
    assert claimed["meta"]["command_id"] == command.command_id
    assert claimed["meta"]["locality"] == {"zone": "z"}
    (row,) = await admin.commands(job.execution_id)
    assert (row["status"], row["worker_id"]) == ("CLAIMED", "w-1")


async def test_an_unknown_command_is_404_with_a_detail(http: httpx.AsyncClient) -> None:
    response = await claim(http, 123456789)
    assert response.status_code == 404
    assert response.json() == {"detail": "command not found: 123456789"}


async def test_the_same_worker_reclaiming_gets_the_command_again_and_nothing_is_written(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job, command = await issue_one(admin)
    first = await claim(http, command.event_id)
    second = await claim(http, command.event_id)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert len(await admin.events(job.execution_id, name="command.claimed")) == 1


async def test_another_worker_gets_409_active_claim_with_retry_after(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    _, command = await issue_one(admin)
    await claim(http, command.event_id, "w-1")
    response = await claim(http, command.event_id, "w-2")
    assert response.status_code == 409
    assert response.headers["retry-after"] == "2"
    assert parse_error_code(response.content) is ErrorCode.ACTIVE_CLAIM
    assert response.json()["detail"]["worker_id"] == "w-1"


async def test_the_holder_reclaiming_a_running_command_gets_409_active_claim(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job, command = await issue_one(admin)
    await claim(http, command.event_id, "w-1")
    assert command.command_id is not None
    await http.post("/api/events/batch", json=started_batch(job.execution_id, "step", command.command_id))
    response = await claim(http, command.event_id, "w-1")
    assert response.status_code == 409
    assert response.json()["detail"]["code"] == "active_claim"
    assert response.json()["detail"]["worker_status"] == "running"


async def test_a_finished_command_is_409_already_terminal(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job, command = await issue_one(admin)
    await claim(http, command.event_id, "w-1")
    assert command.command_id is not None
    await http.post("/api/events/batch", json=done_batch(job.execution_id, "step", command.command_id, response=1))
    for worker in ("w-1", "w-2"):
        response = await claim(http, command.event_id, worker)
        assert response.status_code == 409
        assert response.json()["detail"]["code"] == "already_terminal"
        assert response.json()["detail"]["status"] == "COMPLETED"


async def test_get_command_is_the_claim_body_without_status_and_event_id(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    _, command = await issue_one(admin, kind="http", tool_config={"url": "http://x"})
    response = await http.get(f"/api/commands/{command.event_id}")
    assert response.status_code == 200
    assert "status" not in response.json()
    assert "event_id" not in response.json()
    assert CommandView.model_validate_json(response.content).context.tool_config == {"url": "http://x"}
    assert (await http.get("/api/commands/1")).status_code == 404
    assert (await http.get("/api/commands/x1")).status_code == 422


async def _register(http: httpx.AsyncClient, name: str) -> None:
    response = await http.post("/api/worker/pool/register", json={"name": name, "runtime": "python"})
    assert response.status_code == 200


class TestLeaseTakeover:
    """With a 0.3 s lease and 0.5 s heartbeat staleness, takeover rules can be shown in real time."""

    @pytest.fixture
    def fast(self, standin_factory: StandinFactory) -> str:
        return standin_factory(claim_lease_seconds=0.3, worker_heartbeat_stale_seconds=0.5).url

    async def test_an_unregistered_holder_loses_the_claim_after_the_lease(self, fast: str) -> None:
        async with StandinAdmin(fast) as admin, httpx.AsyncClient(base_url=fast) as http:
            job, command = await issue_one(admin)
            assert (await claim(http, command.event_id, "ghost")).status_code == 200
            assert (await claim(http, command.event_id, "w-2")).status_code == 409, "lease still running"
            await asyncio.sleep(0.35)
            taken = await claim(http, command.event_id, "w-2")
            assert taken.status_code == 200
            reclaim = (await admin.events(job.execution_id, name="command.claimed"))[-1]["meta"]
            assert reclaim["reclaimed"] is True
            assert reclaim["reclaimed_from_worker"] == "ghost"
            assert reclaim["reclaimed_reason"] == "lease_expired"
            assert taken.json()["meta"]["command_id"] == command.command_id

    async def test_a_registered_holder_with_a_fresh_heartbeat_keeps_the_claim(self, fast: str) -> None:
        async with StandinAdmin(fast) as admin, httpx.AsyncClient(base_url=fast) as http:
            _, command = await issue_one(admin)
            await _register(http, "alive")
            assert (await claim(http, command.event_id, "alive")).status_code == 200
            for _ in range(4):
                await asyncio.sleep(0.15)
                await http.post("/api/worker/pool/heartbeat", json={"name": "alive"})
            assert (await claim(http, command.event_id, "w-2")).status_code == 409

    async def test_a_holder_whose_heartbeat_went_stale_loses_the_claim(self, fast: str) -> None:
        async with StandinAdmin(fast) as admin, httpx.AsyncClient(base_url=fast) as http:
            job, command = await issue_one(admin)
            await _register(http, "sleepy")
            assert (await claim(http, command.event_id, "sleepy")).status_code == 200
            await asyncio.sleep(0.6)
            assert (await claim(http, command.event_id, "w-2")).status_code == 200
            reclaim = (await admin.events(job.execution_id, name="command.claimed"))[-1]["meta"]
            assert reclaim["reclaimed_reason"] == "worker_heartbeat_stale"

    async def test_a_deregistered_holder_loses_the_claim_after_the_lease(self, fast: str) -> None:
        async with StandinAdmin(fast) as admin, httpx.AsyncClient(base_url=fast) as http:
            job, command = await issue_one(admin)
            await _register(http, "leaving")
            assert (await claim(http, command.event_id, "leaving")).status_code == 200
            await http.post("/api/worker/pool/deregister", json={"name": "leaving"})
            await asyncio.sleep(0.35)
            assert (await claim(http, command.event_id, "w-2")).status_code == 200
            reclaim = (await admin.events(job.execution_id, name="command.claimed"))[-1]["meta"]
            assert reclaim["reclaimed_reason"] == "worker_offline"


async def test_concurrent_claims_by_many_workers_have_exactly_one_winner(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job, command = await issue_one(admin)
    responses = await asyncio.gather(*[claim(http, command.event_id, f"w-{n}") for n in range(20)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19
    assert len(await admin.events(job.execution_id, name="command.claimed")) == 1
