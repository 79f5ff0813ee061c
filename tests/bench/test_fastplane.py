"""The fast control plane (``bench.fastplane``) over real HTTP: the protocol's answers, and the worker's client
against it (the claim decodes into the wire model, event batches are accepted and counted)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from noetl_wire.commands import ClaimedCommand
from noetl_wire.events import BatchEvent
from noetl_worker.control_plane.client import ClaimStatus, ControlPlaneClient
from noetl_worker.runtime.metrics import WorkerMetrics

from tests.bench.servers import serving

pytestmark = pytest.mark.integration


@pytest.fixture
def plane_url() -> Iterator[str]:
    with serving("bench.fastplane") as url:
        yield url


def submit(url: str, count: int, kind: str = "noop", tool_config: dict[str, Any] | None = None) -> list[list[Any]]:
    response = httpx.post(
        f"{url}/_fast/commands", json={"kind": kind, "count": count, "prefix": "t_", "tool_config": tool_config or {}}
    )
    assert response.status_code == 200
    rows: list[list[Any]] = response.json()
    return rows


def claim(url: str, event_id: int, worker_id: str) -> httpx.Response:
    return httpx.post(f"{url}/api/commands/{event_id}/claim", json={"worker_id": worker_id})


def test_a_claim_is_arbitrated_and_its_body_is_a_claimed_command(plane_url: str) -> None:
    [[execution_id, event_id, command_id, step]] = submit(plane_url, 1, "http", {"url": "http://peer/x"})

    first = claim(plane_url, event_id, "w1")
    command = ClaimedCommand.model_validate_json(first.content)
    assert (command.execution_id, command.event_id, command.command_id, command.node_name) == (
        execution_id,
        event_id,
        command_id,
        step,
    )
    assert command.action == "http"
    assert command.context.tool_config == {"url": "http://peer/x"}
    # The holder may claim again (a redelivery); anyone else is told who holds it.
    assert claim(plane_url, event_id, "w1").status_code == 200
    held = claim(plane_url, event_id, "w2")
    assert held.status_code == 409
    assert held.json()["detail"]["code"] == "active_claim"
    assert held.json()["detail"]["worker_id"] == "w1"
    assert claim(plane_url, 12345, "w1").status_code == 404


def test_a_terminal_event_finishes_the_command_once_and_stamps_its_times(plane_url: str) -> None:
    [[execution_id, event_id, command_id, step]] = submit(plane_url, 1)
    claim(plane_url, event_id, "w1")
    batch = {
        "execution_id": str(execution_id),
        "worker_id": "w1",
        "events": [
            {"step": step, "name": "call.done", "payload": {"command_id": command_id}},
            {"step": step, "name": "command.completed", "payload": {"command_id": command_id}},
        ],
    }
    for _ in range(2):  # the same Idempotency-Key twice: a retried batch is not counted again
        response = httpx.post(f"{plane_url}/api/events/batch", json=batch, headers={"Idempotency-Key": "k1"})
        assert response.status_code == 202
    assert response.json()["duplicate"] is True

    counters = httpx.get(f"{plane_url}/_fast/counters").json()
    assert counters["events"] == {"call.done": 1, "command.completed": 1}
    assert counters["requests"]["POST /api/events/batch"] == 2
    assert counters["requests"]["POST /api/commands/{event_id}/claim"] == 1
    [row] = httpx.post(f"{plane_url}/_fast/times", json={"execution_ids": [execution_id]}).json()
    assert row["status"] == "COMPLETED"
    assert row["claimed_at"] <= row["completed_at"]
    again = claim(plane_url, event_id, "w1")
    assert again.status_code == 409
    assert again.json()["detail"]["code"] == "already_terminal"


def test_the_single_event_route_of_the_rust_worker_finishes_a_command_too(plane_url: str) -> None:
    [[execution_id, _, command_id, step]] = submit(plane_url, 1)
    event = {
        "execution_id": execution_id,
        "event_type": "command.completed",
        "step": step,
        "status": "success",
        "context": {"command_id": str(command_id), "status": "success"},
    }
    assert httpx.post(f"{plane_url}/api/events", json=event).status_code == 200
    [row] = httpx.post(f"{plane_url}/_fast/times", json={"execution_ids": [execution_id]}).json()
    assert row["status"] == "COMPLETED"


def test_a_body_that_is_not_json_is_a_400_naming_the_problem_and_the_server_keeps_serving(plane_url: str) -> None:
    response = httpx.post(f"{plane_url}/api/commands/1/claim", content=b"{not json")
    assert response.status_code == 400
    assert "bad request" in response.json()["detail"]
    assert httpx.get(f"{plane_url}/api/health").status_code == 200
    assert httpx.get(f"{plane_url}/api/nowhere").status_code == 404


async def test_the_workers_client_claims_and_reports_through_it(plane_url: str) -> None:
    [[execution_id, event_id, command_id, step]] = submit(plane_url, 1)
    client = ControlPlaneClient(worker_id="w1", server_url=plane_url, metrics=WorkerMetrics())
    try:
        outcome = await client.claim(plane_url, event_id)
        assert outcome.status is ClaimStatus.CLAIMED
        assert outcome.command is not None
        assert outcome.command.command_id == command_id
        events = [BatchEvent(step=step, name="command.completed", payload={"command_id": command_id})]
        await client.post_batch(plane_url, execution_id, events, deadline=time.monotonic() + 10)
    finally:
        await client.aclose()
    [row] = httpx.post(f"{plane_url}/_fast/times", json={"execution_ids": [execution_id]}).json()
    assert row["status"] == "COMPLETED"
