"""``POST /api/events``, ``POST /api/events/batch`` (202) and ``GET /api/events/batch/{id}/status``.

Both write paths persist the events and update the command projection before answering. The single
endpoint then runs the engine inside the request (except for the non-actionable names the server
skips); the batch endpoint queues the last actionable event for the engine and answers 202 at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from noetl_wire.errors import ErrorCode, error_body
from noetl_wire.events import (
    ACTIONABLE_SKIP,
    BatchEventRequest,
    EventRequest,
    event_status,
    validate_reference_only_payload,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from noetl_standin.api._http import HttpError, dumps, json_response, read_json, validate
from noetl_standin.core import ControlPlane
from noetl_standin.projection import find_command_id, find_error
from noetl_standin.records import BatchRecord, EventRecord
from noetl_standin.settings import StandinSettings

__all__ = ["routes"]

# Names the server deduplicates per (execution, name, step, command id).
DEDUPE_NAMES = frozenset(
    {"call.done", "call.error", "step.exit", "command.started", "command.completed", "command.failed"}
)


def _event_meta(
    meta: Mapping[str, Any] | None,
    *,
    actionable: bool,
    informative: bool,
    worker_id: str | None,
    command_id: int | str | None,
) -> dict[str, Any]:
    merged = dict(meta or {})
    merged.update(actionable=actionable, informative=informative)
    if worker_id is not None:
        merged.setdefault("worker_id", worker_id)
    if command_id is not None:
        merged.setdefault("command_id", command_id)
    return merged


def _record(
    plane: ControlPlane,
    *,
    execution_id: int,
    name: str,
    step: str,
    payload: dict[str, Any],
    meta: Mapping[str, Any] | None,
    worker_id: str | None,
    actionable: bool,
    informative: bool,
    source: Literal["single", "batch"],
    now: float,
) -> EventRecord:
    """A worker's event as the server persists it: status from the name, meta merged, ids looked up."""
    command_id = find_command_id(payload, meta)
    return EventRecord(
        event_id=plane.store.new_id(),
        execution_id=execution_id,
        event_type=name,
        node_name=step,
        status=event_status(name),
        created_at=now,
        payload=payload,
        meta=_event_meta(
            meta, actionable=actionable, informative=informative, worker_id=worker_id, command_id=command_id
        ),
        worker_id=worker_id,
        command_id=command_id,
        actionable=actionable,
        informative=informative,
        source=source,
        error=find_error(payload),
    )


async def post_event(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    body = validate(EventRequest, await read_json(request))
    try:
        validate_reference_only_payload(body.payload)
    except ValueError as exc:
        # The server raises a plain ValueError here, which its handler turns into a 500, not a 422.
        raise HttpError(500, error_body(ErrorCode.INTERNAL_ERROR, str(exc))["detail"]) from None
    command_id = find_command_id(body.payload, body.meta)
    if body.name in DEDUPE_NAMES and command_id is not None:
        # Like the server, only rows written by the batch path carry the command id column it matches on.
        existing = await plane.store.find_event(body.execution_id, body.name, body.step, command_id, source="batch")
        if existing is not None:
            plane.counters.events["deduplicated"] += 1
            return json_response({"status": "ok", "event_id": existing.event_id, "commands_generated": 0})
    now = time.time()
    event = _record(
        plane,
        execution_id=body.execution_id,
        name=body.name,
        step=body.step,
        payload=body.payload,
        meta=body.meta,
        worker_id=body.worker_id,
        actionable=body.actionable,
        informative=body.informative,
        source="single",
        now=now,
    )
    await plane.store.append_events([event], now=now)
    plane.counters.events[body.name] += 1
    generated = 0
    if body.name not in ACTIONABLE_SKIP:
        generated = await plane.engine.on_event(event)
    return json_response({"status": "ok", "event_id": event.event_id, "commands_generated": generated})


def _idempotency_key(request: Request) -> str | None:
    return request.headers.get("idempotency-key") or request.headers.get("x-idempotency-key") or None


def _limit_error(raw: Any, settings: StandinSettings) -> HttpError | None:
    """The 422s the server's batch model and limits produce before any other validation."""
    if not isinstance(raw, dict):
        return None
    if "execution_id" in raw and not isinstance(raw["execution_id"], str):
        # The server's batch model declares a plain str with no coercion: an integer is a 422 there too.
        return HttpError(
            422,
            [
                {
                    "type": "string_type",
                    "loc": ["body", "execution_id"],
                    "msg": "Input should be a valid string",
                    "input": raw["execution_id"],
                }
            ],
        )
    events = raw.get("events")
    if isinstance(events, list) and len(events) > settings.batch_max_events:
        return HttpError(422, f"batch has {len(events)} events, more than the limit of {settings.batch_max_events}")
    return None


def _check_payloads(body: BatchEventRequest, raw_size: int, settings: StandinSettings) -> None:
    # The body bounds the payloads, so they only need measuring when the body itself is over the limit.
    if raw_size > settings.batch_max_payload_bytes:
        size = sum(len(dumps(event.payload)) for event in body.events)
        if size > settings.batch_max_payload_bytes:
            raise HttpError(
                422, f"batch payloads total {size} bytes, more than the limit of {settings.batch_max_payload_bytes}"
            )
    for index, event in enumerate(body.events):
        try:
            validate_reference_only_payload(event.payload)
        except ValueError as exc:
            # Surfaces as 500 enqueue_error on the server: the contract check runs while enqueueing.
            raise HttpError(500, error_body(ErrorCode.ENQUEUE_ERROR, f"events[{index}]: {exc}")["detail"]) from None


async def post_batch(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    raw = await read_json(request)
    limit_error = _limit_error(raw, plane.settings)
    if limit_error is not None:
        raise limit_error
    body = validate(BatchEventRequest, raw)
    _check_payloads(body, len(await request.body()), plane.settings)
    key = _idempotency_key(request)
    if key is not None:
        previous = await plane.store.batch_by_key(body.execution_id, key)
        if previous is not None:
            plane.counters.events["batch_duplicate"] += 1
            return _accepted(previous, plane, duplicate=True)
    now = time.time()
    store = plane.store
    records = [
        _record(
            plane,
            execution_id=body.execution_id,
            name=event.name,
            step=event.step,
            payload=event.payload,
            meta=event.meta,
            worker_id=body.worker_id,
            actionable=event.actionable,
            informative=event.informative,
            source="batch",
            now=now,
        )
        for event in body.events
    ]
    plane.counters.events.update(record.event_type for record in records)
    batch = BatchRecord(
        request_id=str(store.new_id()),
        execution_id=body.execution_id,
        idempotency_key=key,
        event_ids=[record.event_id for record in records],
        updated_at=now,
    )
    accepted = EventRecord(
        event_id=store.new_id(),
        execution_id=body.execution_id,
        event_type="batch.accepted",
        node_name="events.batch",
        status="ACCEPTED",
        created_at=now,
        payload={"request_id": batch.request_id, "event_count": len(records)},
        worker_id=body.worker_id,
    )
    await store.append_events([*records, accepted], now=now)
    actionable = next(
        (r for r in reversed(records) if r.actionable and r.event_type not in ACTIONABLE_SKIP),
        None,
    )
    if actionable is None:
        # Nothing for the engine: the batch is done as soon as it is written.
        batch.state, batch.status = "completed", "COMPLETED"
    await store.save_batch(batch)
    if actionable is not None:
        plane.enqueue_batch(batch, actionable)
    return _accepted(batch, plane, duplicate=False)


def _accepted(batch: BatchRecord, plane: ControlPlane, *, duplicate: bool) -> Response:
    return json_response(
        {
            "status": "accepted",
            "request_id": batch.request_id,
            "event_ids": batch.event_ids,
            "commands_generated": 0,
            "queue_depth": plane.queue_depth(),
            "duplicate": duplicate,
            "idempotency_key": batch.idempotency_key,
        },
        202,
    )


async def batch_status(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    request_id = str(request.path_params["request_id"])
    batch = await plane.store.get_batch(request_id)
    if batch is None:
        raise HttpError(404, f"batch request not found: {request_id}")
    return json_response(batch.to_json())


routes = [
    Route("/api/events", post_event, methods=["POST"]),
    Route("/api/events/batch", post_batch, methods=["POST"]),
    Route("/api/events/batch/{request_id}/status", batch_status, methods=["GET"]),
]
