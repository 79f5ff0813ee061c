"""Events from the wire: single (legacy and EE names), batches (202, idempotency, limits), projection."""

from __future__ import annotations

import httpx
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_wire.events import BatchEventResponse, BatchStatusResponse, EventResponse

from tests.standin.helpers import claim, done_batch, issue_one, started_batch
from tests.wire.capture import http_records

pytestmark = pytest.mark.integration


async def test_a_single_event_in_the_legacy_shape_is_stored(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job, command = await issue_one(admin)
    body = {
        "execution_id": str(job.execution_id),
        "step": "step",
        "name": "command.heartbeat",
        "payload": {"command_id": command.command_id, "worker_id": "w-1"},
        "worker_id": "w-1",
        "actionable": False,
        "informative": True,
    }
    response = await http.post("/api/events", json=body)
    assert response.status_code == 200
    parsed = EventResponse.model_validate_json(response.content)
    assert (parsed.status, parsed.commands_generated) == ("ok", 0)
    (stored,) = await admin.events(job.execution_id, name="command.heartbeat")
    assert stored["event_id"] == parsed.event_id
    assert stored["command_id"] == command.command_id
    assert stored["meta"]["actionable"] is False


async def test_a_single_event_in_the_ee_shape_with_integer_execution_id_is_accepted(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job, command = await issue_one(admin)
    body = {
        "execution_id": job.execution_id,
        "event_type": "command.started",
        "node_name": "step",
        "context": {"command_id": str(command.command_id)},
        "event_id": 42,
        "status": "STARTED",
        "created_at": "2026-06-01T00:00:00Z",
        "worker_id": "w-1",
        "meta": {"attempts": 0},
    }
    response = await http.post("/api/events", json=body)
    assert response.status_code == 200
    assert response.json()["event_id"] != 42, "event ids are always server-generated"
    (row,) = await admin.commands(job.execution_id)
    assert row["status"] == "RUNNING"


async def test_call_done_on_the_single_endpoint_runs_the_engine_inside_the_request(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job = await admin.submit_job([{"name": "a", "kind": "noop"}, {"name": "b", "kind": "noop", "after": ["a"]}])
    a = job.commands["a"]
    await claim(http, a.event_id)
    response = await http.post(
        "/api/events",
        json={
            "execution_id": job.execution_id,
            "step": "a",
            "name": "call.done",
            "payload": {"command_id": a.command_id, "result": {"status": "COMPLETED", "context": {"v": 1}}},
        },
    )
    assert response.json()["commands_generated"] == 1
    assert (await admin.job(job.execution_id)).commands["b"].state == "issued"


async def test_the_real_worker_batches_are_accepted_with_the_real_response_shape(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job, command = await issue_one(admin)
    assert command.command_id is not None
    await claim(http, command.event_id)
    key = f"w-1:{job.execution_id}:abc"
    response = await http.post(
        "/api/events/batch",
        json=started_batch(job.execution_id, "step", command.command_id),
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 202
    accepted = BatchEventResponse.model_validate_json(response.content)
    assert (accepted.status, accepted.duplicate, accepted.idempotency_key) == ("accepted", False, key)
    assert len(accepted.event_ids) == 2
    assert accepted.commands_generated == 0
    assert set(response.json()) == set(http_records("POST", "/api/events/batch")[0][1]["resp_body"])
    (row,) = await admin.commands(job.execution_id)
    assert row["status"] == "RUNNING"


async def test_a_repeated_idempotency_key_returns_the_original_request(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job, command = await issue_one(admin)
    assert command.command_id is not None
    body = started_batch(job.execution_id, "step", command.command_id)
    for header in ("Idempotency-Key", "X-Idempotency-Key"):
        first = await http.post("/api/events/batch", json=body, headers={header: f"k-{header}"})
        again = await http.post("/api/events/batch", json=body, headers={header: f"k-{header}"})
        assert again.status_code == 202
        assert again.json()["duplicate"] is True
        assert again.json()["request_id"] == first.json()["request_id"]
        assert again.json()["event_ids"] == first.json()["event_ids"]
    assert len(await admin.events(job.execution_id, name="command.started")) == 2


async def test_a_batch_execution_id_must_be_a_string(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/events/batch", json={"execution_id": 5, "events": []})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "execution_id"]


async def test_batch_limits_are_422(http: httpx.AsyncClient) -> None:
    too_many = {"execution_id": "1", "events": [{"step": "s", "name": "x"}] * 257}
    response = await http.post("/api/events/batch", json=too_many)
    assert response.status_code == 422
    assert "257 events" in response.json()["detail"]
    too_big = {
        "execution_id": "1",
        "events": [{"step": "s", "name": "x", "payload": {"blob": "x" * (2 * 1024 * 1024)}}],
    }
    response = await http.post("/api/events/batch", json=too_big)
    assert response.status_code == 422
    assert "bytes" in response.json()["detail"]


async def test_reference_only_violations_are_500_like_the_server(http: httpx.AsyncClient) -> None:
    bad_result = {"status": "ok", "data": [1, 2, 3]}
    single = await http.post(
        "/api/events", json={"execution_id": "1", "step": "s", "name": "call.done", "payload": {"result": bad_result}}
    )
    assert single.status_code == 500
    assert single.json()["detail"]["code"] == "internal_error"
    assert "reference-only" in single.json()["detail"]["message"]
    batch = await http.post(
        "/api/events/batch",
        json={"execution_id": "1", "events": [{"step": "s", "name": "call.done", "payload": {"_internal_data": 1}}]},
    )
    assert batch.status_code == 500
    assert batch.json()["detail"]["code"] == "enqueue_error"
    assert batch.json()["detail"]["message"].startswith("events[0]:")


async def test_batch_status_follows_the_engine(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job, command = await issue_one(admin)
    assert command.command_id is not None
    await claim(http, command.event_id)
    response = await http.post(
        "/api/events/batch", json=done_batch(job.execution_id, "step", command.command_id, response=3)
    )
    await admin.drain()
    status = await http.get(f"/api/events/batch/{response.json()['request_id']}/status")
    assert status.status_code == 200
    parsed = BatchStatusResponse.model_validate_json(status.content)
    assert (parsed.state, parsed.execution_id) == ("completed", str(job.execution_id))
    names = [e["event_type"] for e in await admin.events(job.execution_id)]
    assert names.index("batch.accepted") < names.index("batch.processing") < names.index("batch.completed")
    missing = await http.get("/api/events/batch/424242/status")
    assert missing.status_code == 404
    assert "detail" in missing.json()


async def test_a_terminal_command_is_never_downgraded(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job, command = await issue_one(admin)
    assert command.command_id is not None
    await claim(http, command.event_id)
    await http.post("/api/events/batch", json=done_batch(job.execution_id, "step", command.command_id, response=1))
    await http.post("/api/events/batch", json=started_batch(job.execution_id, "step", command.command_id))
    (row,) = await admin.commands(job.execution_id)
    assert row["status"] == "COMPLETED"
    assert row["result"] == {"status": "COMPLETED", "context": {"value": 1}}


async def test_command_failed_records_the_error_on_the_command(http: httpx.AsyncClient, admin: StandinAdmin) -> None:
    job, command = await issue_one(admin)
    await claim(http, command.event_id)
    await http.post(
        "/api/events/batch",
        json={
            "execution_id": str(job.execution_id),
            "events": [
                {
                    "step": "step",
                    "name": "command.failed",
                    "payload": {"command_id": command.command_id, "error": "boom"},
                }
            ],
        },
    )
    (row,) = await admin.commands(job.execution_id)
    assert (row["status"], row["error"]) == ("FAILED", "boom")


async def test_single_events_duplicate_a_batch_written_event_are_deduplicated(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job, command = await issue_one(admin)
    assert command.command_id is not None
    batch = await http.post("/api/events/batch", json=started_batch(job.execution_id, "step", command.command_id))
    again = await http.post(
        "/api/events",
        json={
            "execution_id": str(job.execution_id),
            "step": "step",
            "name": "command.started",
            "payload": {"command_id": command.command_id},
        },
    )
    assert again.json()["event_id"] == batch.json()["event_ids"][0]
    assert len(await admin.events(job.execution_id, name="command.started")) == 1


async def test_single_event_dedupe_matches_the_batch_row_even_after_an_earlier_single_row(
    http: httpx.AsyncClient, admin: StandinAdmin
) -> None:
    job, command = await issue_one(admin)
    assert command.command_id is not None
    single = {
        "execution_id": str(job.execution_id),
        "step": "step",
        "name": "command.started",
        "payload": {"command_id": command.command_id},
    }
    first = await http.post("/api/events", json=single)
    batch = await http.post("/api/events/batch", json=started_batch(job.execution_id, "step", command.command_id))
    again = await http.post("/api/events", json=single)
    assert first.json()["event_id"] != batch.json()["event_ids"][0]
    assert again.json()["event_id"] == batch.json()["event_ids"][0]
