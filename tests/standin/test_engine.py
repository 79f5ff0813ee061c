"""The job engine: dependencies, failure, duplicate call.done, and job-spec validation."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from noetl_standin.admin import StandinAdmin, StandinAdminError
from noetl_standin.jobs import JobSpec
from pydantic import ValidationError

from tests.standin.helpers import claim, done_batch

pytestmark = pytest.mark.integration


async def _run(http: httpx.AsyncClient, admin: StandinAdmin, execution_id: int, name: str, response: object) -> None:
    command = (await admin.job(execution_id)).commands[name]
    assert command.event_id is not None
    assert command.command_id is not None
    assert (await claim(http, command.event_id)).status_code == 200
    batch = done_batch(execution_id, name, command.command_id, response=response)
    assert (await http.post("/api/events/batch", json=batch)).status_code == 202
    await admin.drain()


async def test_a_diamond_issues_each_command_once_all_its_dependencies_are_done(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job = await admin.submit_job(
        [
            {"name": "root", "kind": "noop"},
            {"name": "left", "kind": "noop", "after": ["root"]},
            {"name": "right", "kind": "noop", "after": ["root"]},
            {"name": "join", "kind": "python", "after": ["left", "right"]},
        ],
        workload={"base": 7},
    )
    eid = job.execution_id
    assert {n: c.state for n, c in job.commands.items()} == {
        "root": "issued",
        "left": "waiting",
        "right": "waiting",
        "join": "waiting",
    }
    await _run(http, admin, eid, "root", {"v": 1})
    view = await admin.job(eid)
    assert (view.commands["left"].state, view.commands["right"].state) == ("issued", "issued")
    await _run(http, admin, eid, "left", {"l": 2})
    assert (await admin.job(eid)).commands["join"].state == "waiting"
    await _run(http, admin, eid, "right", {"r": 3})
    join = (await admin.job(eid)).commands["join"]
    claimed = (await claim(http, join.event_id)).json()
    # Results of earlier steps reach later commands through the render context, like the server's.
    assert claimed["context"]["render_context"]["left"] == {"l": 2}
    assert claimed["context"]["render_context"]["workload"]["base"] == 7
    assert claimed["meta"]["triggered_by"] == "call.done"
    assert join.command_id is not None
    await http.post("/api/events/batch", json=done_batch(eid, "join", join.command_id, response={"j": 4}))
    final = await admin.wait_job(eid, timeout=5)
    assert final.status == "completed"
    assert final.results["join"] == {"j": 4}
    await admin.drain()
    names = [e["event_type"] for e in await admin.events(eid) if not e["event_type"].startswith("batch.")]
    assert names[:2] == ["playbook.initialized", "workflow.initialized"]
    assert names[-2:] == ["workflow.completed", "playbook.completed"]


async def test_call_error_fails_the_job_and_stops_issuing(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job = await admin.submit_job([{"name": "a", "kind": "noop"}, {"name": "b", "kind": "noop", "after": ["a"]}])
    a = job.commands["a"]
    await claim(http, a.event_id)
    await http.post(
        "/api/events/batch",
        json={
            "execution_id": str(job.execution_id),
            "events": [
                {
                    "step": "a",
                    "name": "call.error",
                    "actionable": True,
                    "payload": {"command_id": a.command_id, "error": "boom", "result": {"status": "FAILED"}},
                },
                {"step": "a", "name": "command.failed", "payload": {"command_id": a.command_id, "error": "boom"}},
            ],
        },
    )
    final = await admin.wait_job(job.execution_id, timeout=5)
    assert final.status == "failed"
    assert "boom" in (final.error or "")
    assert final.commands["b"].state == "waiting"
    # The execution is terminal now: its commands can no longer be claimed.
    response = await claim(http, a.event_id, "w-2")
    assert response.json()["detail"]["code"] == "already_terminal"


async def test_a_duplicate_call_done_is_orchestrated_once(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job = await admin.submit_job([{"name": "a", "kind": "noop"}, {"name": "b", "kind": "noop", "after": ["a"]}])
    a = job.commands["a"]
    assert a.command_id is not None
    await claim(http, a.event_id)
    for _ in range(3):
        await http.post("/api/events/batch", json=done_batch(job.execution_id, "a", a.command_id, response=1))
    await admin.drain()
    assert len([c for c in await admin.commands(job.execution_id) if c["step_name"] == "b"]) == 1


@pytest.mark.parametrize(
    ("commands", "fragment"),
    [
        ([], "at least 1"),
        ([{"name": "a", "kind": "noop"}, {"name": "a", "kind": "noop"}], "unique"),
        ([{"name": "a", "kind": "noop", "after": ["zz"]}], "unknown commands ['zz']"),
        ([{"name": "a", "kind": "noop", "after": ["a"]}], "depends on itself"),
        ([{"name": "a", "kind": "noop", "after": ["b"]}, {"name": "b", "kind": "noop", "after": ["a"]}], "cycle"),
        ([{"name": "a b", "kind": "noop"}], "pattern"),
        ([{"name": "a"}], "kind"),
    ],
)
async def test_a_bad_job_is_422_naming_the_problem(admin: StandinAdmin, commands: list[object], fragment: str) -> None:
    with pytest.raises(StandinAdminError) as caught:
        await admin._call("POST", "/_standin/jobs", json={"commands": commands})
    assert caught.value.status == 422
    assert fragment in str(caught.value.detail)


@pytest.mark.unit
def test_job_spec_reports_the_cycle_path() -> None:
    with pytest.raises(ValidationError, match="a waits for c waits for b waits for a"):
        JobSpec.model_validate(
            {
                "commands": [
                    {"name": "a", "kind": "k", "after": ["c"]},
                    {"name": "b", "kind": "k", "after": ["a"]},
                    {"name": "c", "kind": "k", "after": ["b"]},
                ]
            }
        )


async def test_an_unknown_job_is_404(admin: StandinAdmin) -> None:
    with pytest.raises(StandinAdminError) as caught:
        await admin.job(1)
    assert caught.value.status == 404


@pytest.mark.unit
def test_large_jobs_validate_quickly_and_long_chains_do_not_overflow_the_stack() -> None:
    chain = [{"name": "c0", "kind": "noop"}] + [
        {"name": f"c{i}", "kind": "noop", "after": [f"c{i - 1}"]} for i in range(1, 5000)
    ]
    fan = [{"name": f"f{i}", "kind": "noop"} for i in range(10_000)]
    started = time.monotonic()
    assert len(JobSpec.model_validate({"commands": chain}).commands) == 5000
    assert len(JobSpec.model_validate({"commands": fan}).commands) == 10_000
    assert time.monotonic() - started < 5
    with pytest.raises(ValidationError, match="cycle"):
        JobSpec.model_validate({"commands": [{**chain[0], "after": ["c4999"]}, *chain[1:]]})


async def test_concurrent_last_call_dones_complete_the_job_exactly_once(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job = await admin.submit_job([{"name": f"p{i}", "kind": "noop"} for i in range(10)])
    for command in job.commands.values():
        await claim(http, command.event_id)

    async def done(name: str) -> None:
        command = job.commands[name]
        body = {
            "execution_id": job.execution_id,
            "step": name,
            "name": "call.done",
            "payload": {"command_id": command.command_id, "result": {"status": "COMPLETED"}},
        }
        assert (await http.post("/api/events", json=body)).status_code == 200

    await asyncio.gather(*[done(name) for name in job.commands])
    assert (await admin.job(job.execution_id)).status == "completed"
    assert len(await admin.events(job.execution_id, name="playbook.completed")) == 1
