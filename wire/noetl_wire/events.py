"""Events: ``POST /api/events`` (one), ``POST /api/events/batch`` (many, 202) and the batch status.

Both endpoints accept the legacy field names (``step``/``name``/``payload``) and the "EE" names
(``node_name``/``event_type``/``context``); models serialise the legacy names, which is what the
upstream Python worker sends. A batch's ``execution_id`` is always serialised as a string because the
server's batch model does not coerce integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from pydantic import AliasChoices, Field

from noetl_wire._base import WireModel
from noetl_wire.ids import IdString, Snowflake

__all__ = [
    "ACTIONABLE_SKIP",
    "BATCH_MAX_EVENTS",
    "BATCH_MAX_PAYLOAD_BYTES",
    "RESULT_ALLOWED_KEYS",
    "BatchEvent",
    "BatchEventRequest",
    "BatchEventResponse",
    "BatchState",
    "BatchStatusResponse",
    "EventName",
    "EventRequest",
    "EventResponse",
    "event_status",
    "validate_reference_only_payload",
]


class EventName(StrEnum):
    """Event names that cross the worker ↔ server boundary (plus the server's own batch events)."""

    COMMAND_ISSUED = "command.issued"
    COMMAND_CLAIMED = "command.claimed"
    COMMAND_STARTED = "command.started"
    COMMAND_HEARTBEAT = "command.heartbeat"
    COMMAND_COMPLETED = "command.completed"
    COMMAND_FAILED = "command.failed"
    COMMAND_CANCELLED = "command.cancelled"
    STEP_ENTER = "step.enter"
    STEP_EXIT = "step.exit"
    CALL_DONE = "call.done"
    CALL_ERROR = "call.error"
    CASE_EVALUATED = "case.evaluated"
    BATCH_ACCEPTED = "batch.accepted"
    BATCH_PROCESSING = "batch.processing"
    BATCH_COMPLETED = "batch.completed"
    BATCH_FAILED = "batch.failed"
    WORKFLOW_COMPLETED = "workflow.completed"
    WORKFLOW_FAILED = "workflow.failed"
    PLAYBOOK_COMPLETED = "playbook.completed"
    PLAYBOOK_FAILED = "playbook.failed"


# Events after which the server does not run its engine, even when marked actionable.
ACTIONABLE_SKIP: Final = frozenset(
    {
        EventName.COMMAND_CLAIMED,
        EventName.COMMAND_HEARTBEAT,
        EventName.COMMAND_STARTED,
        EventName.COMMAND_COMPLETED,
        EventName.STEP_ENTER,
    }
)

BATCH_MAX_EVENTS: Final = 256
BATCH_MAX_PAYLOAD_BYTES: Final = 2 * 1024 * 1024
RESULT_ALLOWED_KEYS: Final = frozenset({"status", "reference", "context", "command_id"})
_INTERNAL_DATA: Final = "_internal_data"
_MAX_SCAN_DEPTH: Final = 8


class EventRequest(WireModel):
    """Body of ``POST /api/events``. ``execution_id`` may arrive as int or digit string; sent as a string."""

    execution_id: IdString
    step: str = Field(validation_alias=AliasChoices("step", "node_name"))
    name: str = Field(min_length=1, validation_alias=AliasChoices("name", "event_type"))
    payload: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("payload", "context"))
    meta: dict[str, Any] | None = None
    worker_id: str | None = None
    actionable: bool = True
    informative: bool = True


class EventResponse(WireModel):
    """200 body of ``POST /api/events``."""

    status: str = "ok"
    event_id: Snowflake
    commands_generated: int = 0


class BatchEvent(WireModel):
    """One event inside a batch. Note ``actionable`` defaults to false here (true on the single endpoint)."""

    step: str = Field(validation_alias=AliasChoices("step", "node_name"))
    name: str = Field(min_length=1, validation_alias=AliasChoices("name", "event_type"))
    payload: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("payload", "context"))
    actionable: bool = False
    informative: bool = True
    meta: dict[str, Any] | None = None


class BatchEventRequest(WireModel):
    """Body of ``POST /api/events/batch`` (the ``Idempotency-Key`` travels as a header)."""

    execution_id: IdString
    worker_id: str | None = None
    catalog_id: Snowflake | None = None
    events: list[BatchEvent]


class BatchEventResponse(WireModel):
    """202 body of ``POST /api/events/batch``."""

    status: str = "accepted"
    request_id: str
    event_ids: list[Snowflake]
    commands_generated: int = 0
    queue_depth: int = 0
    duplicate: bool = False
    idempotency_key: str | None = None


class BatchState(StrEnum):
    """Lifecycle of an accepted batch."""

    ACCEPTED = "accepted"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class BatchStatusResponse(WireModel):
    """``GET /api/events/batch/{request_id}/status``."""

    request_id: str
    execution_id: str
    state: BatchState
    status: str
    error_code: str | None = None
    message: str | None = None
    commands_generated: int = 0
    idempotency_key: str | None = None
    updated_at: str | None = None


def event_status(name: str) -> str:
    """The status the server derives from an event name (the client's own ``status`` is ignored)."""
    if "error" in name or "failed" in name:
        return "FAILED"
    if "done" in name or "exit" in name or "completed" in name:
        return "COMPLETED"
    return "RUNNING"


def validate_reference_only_payload(payload: object) -> None:
    """Enforce the server's reference-only contract on an event payload; raise ``ValueError`` if broken.

    ``payload`` must be an object without a top-level ``_internal_data``; ``payload.result``, when
    present, must be an object whose keys are a subset of {status, reference, context, command_id},
    whose ``reference`` and ``context`` are objects, and whose ``context`` holds no ``_internal_data``
    at any depth (scanned to depth 8, like the server). Large data belongs in the result store, with
    only a reference in the event. A null ``reference``/``context`` counts as absent. The later rule
    against legacy ``command_*`` keys inside ``result.context`` (after the pinned server revision) is
    not enforced.
    """
    if not isinstance(payload, Mapping):
        raise ValueError(f"event payload must be an object, got {type(payload).__name__}")
    if _INTERNAL_DATA in payload:
        raise ValueError("event payload must not carry '_internal_data' (reference-only contract)")
    if "result" not in payload:
        return
    result = payload["result"]
    if not isinstance(result, Mapping):
        raise ValueError(f"payload.result must be an object, got {type(result).__name__}")
    unexpected = sorted(set(result) - RESULT_ALLOWED_KEYS)
    if unexpected:
        raise ValueError(
            f"payload.result has keys {unexpected} outside the reference-only set "
            f"{sorted(RESULT_ALLOWED_KEYS)}: put data in result.context or store it and send result.reference"
        )
    for key in ("reference", "context"):
        if key in result and result[key] is not None and not isinstance(result[key], Mapping):
            raise ValueError(f"payload.result.{key} must be an object, got {type(result[key]).__name__}")
    context = result.get("context")
    if isinstance(context, Mapping):
        path = _find_internal_data(context, "payload.result.context", 0)
        if path is not None:
            raise ValueError(f"{path} must not carry '_internal_data' (reference-only contract)")


def _find_internal_data(value: object, path: str, depth: int) -> str | None:
    if depth >= _MAX_SCAN_DEPTH:
        return None
    if isinstance(value, Mapping):
        if _INTERNAL_DATA in value:
            return path
        for key, child in value.items():
            found = _find_internal_data(child, f"{path}.{key}", depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found = _find_internal_data(child, f"{path}[{index}]", depth + 1)
            if found is not None:
                return found
    return None
