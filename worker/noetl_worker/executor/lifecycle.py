"""The lifecycle batches, exactly as the NoETL server's own Python worker sends them (wire capture).

Per command two batches go to ``POST /api/events/batch``:

1. ``[command.started {command_id, worker_id}, step.enter {status: "started"}]`` — both not actionable;
2. success: ``[call.done (actionable), step.exit, command.completed]``;
   failure: ``[call.error (actionable), step.exit {status: "FAILED"}, command.failed]``.

``call.done``/``call.error`` carry ``response`` (what the engine exposes to the next step as
``{{ <step>.<field> }}``) and ``result`` (the reference-only envelope the server persists). Loop
bookkeeping from the claim's ``meta`` is echoed on ``call.*`` and ``step.exit``.

Each event is built as the JSON object that goes on the wire — the fields of
:class:`noetl_wire.events.BatchEvent` in its serialisation order, ``meta`` left out when there is none — not
as a model: validating five models a command and dumping them again was about 60 µs of a noop command's
CPU, and these objects are well-formed by construction. ``ControlPlaneClient.post_batch`` encodes them once.
"""

from __future__ import annotations

from noetl_wire.events import EventName

from noetl_worker.executor.command import CommandIdentity
from noetl_worker.jsontypes import JSONObject, JSONValue

__all__ = ["failure_batch", "started_batch", "success_batch"]

# Plain strings: the encoder takes them as they are (an enum member would be a subclass to convert).
_STARTED = EventName.COMMAND_STARTED.value
_ENTER = EventName.STEP_ENTER.value
_DONE = EventName.CALL_DONE.value
_ERROR = EventName.CALL_ERROR.value
_EXIT = EventName.STEP_EXIT.value
_COMPLETED = EventName.COMMAND_COMPLETED.value
_FAILED = EventName.COMMAND_FAILED.value


def _event(step: str, name: str, payload: JSONObject, actionable: bool, meta: JSONObject | None = None) -> JSONObject:
    event: JSONObject = {"step": step, "name": name, "payload": payload, "actionable": actionable, "informative": True}
    if meta is not None:
        event["meta"] = meta
    return event


def started_batch(ident: CommandIdentity) -> list[JSONObject]:
    return [
        _event(ident.step, _STARTED, {"command_id": ident.command_id, "worker_id": ident.worker_id}, False),
        _event(ident.step, _ENTER, {"status": "started"}, False),
    ]


def _call_payload(ident: CommandIdentity, response: JSONValue, result: JSONObject) -> JSONObject:
    return {
        "response": response,
        "command_id": ident.command_id,
        "loop_event_id": ident.loop_event_id,
        "loop_iteration_index": ident.loop_iteration_index,
        "result": result,
    }


def success_batch(
    ident: CommandIdentity, response: JSONValue, result: JSONObject, *, exit_status: str = "COMPLETED"
) -> list[JSONObject]:
    """``call.done``, ``step.exit {status: exit_status}``, ``command.completed``."""
    meta = ident.event_meta()
    return [
        _event(ident.step, _DONE, _call_payload(ident, response, result), True, meta),
        _event(
            ident.step, _EXIT,
            {"status": exit_status, "result": result, "error": None, "command_id": ident.command_id}, False, dict(meta),
        ),
        _event(
            ident.step, _COMPLETED,
            {"command_id": ident.command_id, "worker_id": ident.worker_id, "result": result}, False,
        ),
    ]  # fmt: skip


def failure_batch(ident: CommandIdentity, error: str, response: JSONValue, result: JSONObject) -> list[JSONObject]:
    """``call.error``, ``step.exit {status: "FAILED"}``, ``command.failed`` — all carrying ``error``."""
    meta = ident.event_meta()
    return [
        _event(ident.step, _ERROR, {"error": error, **_call_payload(ident, response, result)}, True, meta),
        _event(
            ident.step, _EXIT,
            {"status": "FAILED", "result": result, "error": error, "command_id": ident.command_id}, False, dict(meta),
        ),
        _event(
            ident.step, _FAILED,
            {"command_id": ident.command_id, "worker_id": ident.worker_id, "result": result, "error": error}, False,
        ),
    ]  # fmt: skip
