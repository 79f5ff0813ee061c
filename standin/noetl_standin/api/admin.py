"""The stand-in's own namespace, ``/_standin``: jobs, read-outs for assertions, and fault injection.

Nothing here exists on a real NoETL server; it replaces ``POST /api/execute`` + playbooks for tests and
gives them eyes into the event log, the command table and the counters.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from noetl_standin.api._http import HttpError, json_response, path_id, query_id, read_json, validate
from noetl_standin.core import ControlPlane
from noetl_standin.engine import JobNotFoundError
from noetl_standin.faults import FaultConfig
from noetl_standin.jobs import JobSpec

__all__ = ["routes"]


async def submit_job(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    spec = validate(JobSpec, await read_json(request))
    view = await plane.engine.submit(spec)
    return json_response(view.model_dump(mode="json"), 201)


async def list_jobs(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    return json_response({"jobs": [view.model_dump(mode="json") for view in plane.engine.jobs()]})


async def get_job(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    execution_id = path_id(request, "execution_id")
    try:
        view = plane.engine.view(execution_id)
    except JobNotFoundError:
        raise HttpError(404, f"job not found: {execution_id}") from None
    return json_response(view.model_dump(mode="json"))


async def list_events(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    events = await plane.store.events(query_id(request, "execution_id"), after_event_id=query_id(request, "after"))
    name = request.query_params.get("name")
    return json_response({"events": [e.to_json() for e in events if name is None or e.event_type == name]})


async def list_commands(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    commands = await plane.store.commands(query_id(request, "execution_id"))
    return json_response({"commands": [c.to_json() for c in commands]})


async def publish_command(request: Request) -> Response:
    """Publish a command's pointer again now: a deliberate duplicate delivery."""
    plane: ControlPlane = request.app.state.plane
    event_id = path_id(request, "event_id")
    command = await plane.store.get_command(event_id)
    if command is None:
        raise HttpError(404, f"command not found: {event_id}")
    published = await plane.publisher.publish(command, plane.server_url(), republish=True)
    return json_response({"published": published, "event_id": event_id})


async def get_counters(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    return json_response(plane.counters.to_json())


async def reset_counters(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    plane.counters.reset()
    return json_response(plane.counters.to_json())


async def get_faults(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    return json_response(plane.faults.config.model_dump(mode="json"))


async def set_faults(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    config = validate(FaultConfig, await read_json(request))
    plane.faults.configure(config)
    return json_response(config.model_dump(mode="json"))


async def clear_faults(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    plane.faults.clear()
    return json_response(plane.faults.config.model_dump(mode="json"))


async def list_workers(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    now = time.time()
    offline_after = plane.settings.runtime_offline_seconds
    return json_response(
        {"workers": [w.to_json(now=now, offline_after=offline_after) for w in await plane.store.workers()]}
    )


async def drain(request: Request) -> Response:
    """Wait until every accepted batch has gone through the engine (deterministic test reads)."""
    plane: ControlPlane = request.app.state.plane
    await plane.drain_batches()
    return json_response({"status": "ok"})


async def get_settings(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    return json_response({**plane.settings.model_dump(mode="json"), "server_url": plane.server_url()})


routes = [
    Route("/_standin/jobs", submit_job, methods=["POST"]),
    Route("/_standin/jobs", list_jobs, methods=["GET"]),
    Route("/_standin/jobs/{execution_id}", get_job, methods=["GET"]),
    Route("/_standin/events", list_events, methods=["GET"]),
    Route("/_standin/commands", list_commands, methods=["GET"]),
    Route("/_standin/commands/{event_id}/publish", publish_command, methods=["POST"]),
    Route("/_standin/counters", get_counters, methods=["GET"]),
    Route("/_standin/counters", reset_counters, methods=["DELETE"]),
    Route("/_standin/faults", get_faults, methods=["GET"]),
    Route("/_standin/faults", set_faults, methods=["PUT", "POST"]),
    Route("/_standin/faults", clear_faults, methods=["DELETE"]),
    Route("/_standin/workers", list_workers, methods=["GET"]),
    Route("/_standin/drain", drain, methods=["POST"]),
    Route("/_standin/settings", get_settings, methods=["GET"]),
]
