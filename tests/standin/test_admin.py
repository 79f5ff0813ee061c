"""The ``/_standin`` read-outs tests rely on: counters, jobs, events, workers, settings."""

from __future__ import annotations

import httpx
import pytest
from noetl_standin.admin import StandinAdmin

from tests.standin.conftest import StandinFactory
from tests.standin.helpers import claim, issue_one

pytestmark = pytest.mark.integration


async def test_counters_count_requests_by_route_template_and_claims_by_outcome(standin_factory: StandinFactory) -> None:
    url = standin_factory().url
    async with StandinAdmin(url) as admin, httpx.AsyncClient(base_url=url) as http:
        _, command = await issue_one(admin)
        await claim(http, command.event_id, "w-1")
        await claim(http, command.event_id, "w-2")
        await claim(http, 1, "w-1")
        await http.get("/api/no/such/route")
        counters = await admin.counters()
        assert counters["requests"]["POST /api/commands/{event_id}/claim"] == 3
        assert counters["requests"]["GET <unmatched>"] == 1
        assert counters["claims"] == {"claimed": 1, "active_claim": 1, "not_found": 1}
        assert counters["statuses"]["409"] == 1
        await admin.reset_counters()
        assert (await admin.counters())["claims"] == {}


async def test_jobs_events_and_commands_read_outs(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job, command = await issue_one(admin, name="only")
    listed = (await http.get("/_standin/jobs")).json()["jobs"]
    assert job.execution_id in {j["execution_id"] for j in listed}
    events = await admin.events(job.execution_id)
    assert [e["event_type"] for e in events] == ["playbook.initialized", "workflow.initialized", "command.issued"]
    later = await admin.events(job.execution_id, after=events[1]["event_id"])
    assert [e["event_type"] for e in later] == ["command.issued"]
    (row,) = await admin.commands(job.execution_id)
    assert (row["step_name"], row["status"], row["command_id"]) == ("only", "PENDING", command.command_id)


async def test_workers_and_settings_read_outs(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    await http.post("/api/worker/pool/register", json={"name": "seen", "runtime": "python", "capacity": 4})
    workers = {w["name"]: w for w in await admin.workers()}
    assert (workers["seen"]["capacity"], workers["seen"]["status"]) == (4, "ready")
    settings = (await http.get("/_standin/settings")).json()
    assert settings["server_url"] == admin.url
    assert settings["claim_lease_seconds"] == 120


async def test_seeding_a_credential_through_the_admin_client(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    await admin.seed_credential("api", {"token": "t"}, type="bearer", tags=["x"])
    body = (await http.get("/api/credentials/api", params={"include_data": "true"})).json()
    assert (body["type"], body["data"], body["tags"]) == ("bearer", {"token": "t"}, ["x"])
