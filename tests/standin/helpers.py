"""Small builders shared by the stand-in tests (jobs with one command, worker event batches)."""

from __future__ import annotations

from typing import Any

import httpx
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobCommandView, JobView


async def issue_one(
    admin: StandinAdmin, name: str = "step", kind: str = "noop", **spec: Any
) -> tuple[JobView, JobCommandView]:
    """Submit a one-command job; return the job and its (issued) command."""
    job = await admin.submit_job([{"name": name, "kind": kind, **spec}])
    return job, job.commands[name]


def done_batch(
    execution_id: int, step: str, command_id: int, *, worker_id: str = "w-1", response: Any = None
) -> dict[str, Any]:
    """The success batch the upstream Python worker sends: call.done, step.exit, command.completed."""
    result = {"status": "COMPLETED", "context": response if isinstance(response, dict) else {"value": response}}
    return {
        "execution_id": str(execution_id),
        "worker_id": worker_id,
        "events": [
            {
                "step": step,
                "name": "call.done",
                "actionable": True,
                "meta": {"command_id": command_id},
                "payload": {"response": response, "command_id": command_id, "result": result},
            },
            {
                "step": step,
                "name": "step.exit",
                "payload": {"status": "COMPLETED", "result": result, "command_id": command_id},
            },
            {
                "step": step,
                "name": "command.completed",
                "payload": {"command_id": command_id, "worker_id": worker_id, "result": result},
            },
        ],
    }


def started_batch(execution_id: int, step: str, command_id: int, *, worker_id: str = "w-1") -> dict[str, Any]:
    return {
        "execution_id": str(execution_id),
        "worker_id": worker_id,
        "events": [
            {"step": step, "name": "command.started", "payload": {"command_id": command_id, "worker_id": worker_id}},
            {"step": step, "name": "step.enter", "payload": {"status": "started"}},
        ],
    }


async def claim(http: httpx.AsyncClient, event_id: int | None, worker_id: str = "w-1") -> httpx.Response:
    return await http.post(f"/api/commands/{event_id}/claim", json={"worker_id": worker_id})
