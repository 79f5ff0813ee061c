"""``POST /api/commands/{event_id}/claim`` and ``GET /api/commands/{event_id}``."""

from __future__ import annotations

import time
from typing import Any

from noetl_wire.commands import ClaimRequest
from noetl_wire.errors import ErrorCode, error_body
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from noetl_standin.api._http import HttpError, json_response, path_id, read_json, validate
from noetl_standin.core import ControlPlane
from noetl_standin.records import CommandRecord

__all__ = ["routes"]


def _command_body(command: CommandRecord) -> dict[str, Any]:
    return {
        "execution_id": command.execution_id,
        "node_id": command.step,
        "node_name": command.step,
        "action": command.tool_kind,
        "context": command.context,
        "meta": command.meta,
    }


async def claim(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    event_id = path_id(request, "event_id")
    body = validate(ClaimRequest, await read_json(request))
    locality = body.locality.model_dump(exclude_none=True) if body.locality else None
    outcome = await plane.store.claim(event_id, body.worker_id, locality, now=time.time(), policy=plane.policy)
    plane.counters.claims[outcome.kind] += 1
    command = outcome.command
    if outcome.kind == "not_found" or command is None:
        raise HttpError(404, f"command not found: {event_id}")
    if outcome.kind == "already_terminal":
        raise HttpError(
            409,
            error_body(
                ErrorCode.ALREADY_TERMINAL,
                f"command {command.command_id} is already terminal ({outcome.reason})",
                status=command.status.value,
            )["detail"],
        )
    if outcome.kind == "active_claim":
        extra: dict[str, Any] = {"worker_id": outcome.holder}
        if command.worker_id == body.worker_id:
            extra["worker_status"] = "running"
        raise HttpError(
            409,
            error_body(ErrorCode.ACTIVE_CLAIM, f"command {command.command_id} is claimed by {outcome.holder}", **extra)[
                "detail"
            ],
            {"Retry-After": _seconds(plane.settings.claim_retry_after_seconds)},
        )
    return json_response({"status": "ok", "event_id": command.event_id, **_command_body(command)})


async def get_command(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    event_id = path_id(request, "event_id")
    command = await plane.store.get_command(event_id)
    if command is None:
        raise HttpError(404, f"command not found: {event_id}")
    # The stand-in stores no keychain values in commands, so there is nothing to redact.
    return json_response(_command_body(command))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


routes = [
    Route("/api/commands/{event_id}/claim", claim, methods=["POST"]),
    Route("/api/commands/{event_id}", get_command, methods=["GET"]),
]
