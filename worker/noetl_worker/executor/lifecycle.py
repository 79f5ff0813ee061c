"""The lifecycle batches, exactly as the NoETL server's own Python worker sends them (wire capture).

Per command two batches go to ``POST /api/events/batch``:

1. ``[command.started {command_id, worker_id}, step.enter {status: "started"}]`` — both not actionable;
2. success: ``[call.done (actionable), step.exit, command.completed]``;
   failure: ``[call.error (actionable), step.exit {status: "FAILED"}, command.failed]``.

``call.done``/``call.error`` carry ``response`` (what the engine exposes to the next step as
``{{ <step>.<field> }}``) and ``result`` (the reference-only envelope the server persists). Loop
bookkeeping from the claim's ``meta`` is echoed on ``call.*`` and ``step.exit``.
"""

from __future__ import annotations

from noetl_wire.events import BatchEvent, EventName

from noetl_worker.executor.command import CommandIdentity
from noetl_worker.jsontypes import JSONObject, JSONValue

__all__ = ["failure_batch", "started_batch", "success_batch"]


def started_batch(ident: CommandIdentity) -> list[BatchEvent]:
    return [
        BatchEvent(
            step=ident.step,
            name=EventName.COMMAND_STARTED,
            payload={"command_id": ident.command_id, "worker_id": ident.worker_id},
            actionable=False,
        ),
        BatchEvent(step=ident.step, name=EventName.STEP_ENTER, payload={"status": "started"}, actionable=False),
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
) -> list[BatchEvent]:
    """``call.done``, ``step.exit {status: exit_status}``, ``command.completed``."""
    meta = ident.event_meta()
    return [
        BatchEvent(
            step=ident.step, name=EventName.CALL_DONE, payload=_call_payload(ident, response, result),
            actionable=True, meta=meta,
        ),
        BatchEvent(
            step=ident.step, name=EventName.STEP_EXIT,
            payload={"status": exit_status, "result": result, "error": None, "command_id": ident.command_id},
            actionable=False, meta=dict(meta),
        ),
        BatchEvent(
            step=ident.step, name=EventName.COMMAND_COMPLETED,
            payload={"command_id": ident.command_id, "worker_id": ident.worker_id, "result": result},
            actionable=False,
        ),
    ]  # fmt: skip


def failure_batch(ident: CommandIdentity, error: str, response: JSONValue, result: JSONObject) -> list[BatchEvent]:
    """``call.error``, ``step.exit {status: "FAILED"}``, ``command.failed`` — all carrying ``error``."""
    meta = ident.event_meta()
    return [
        BatchEvent(
            step=ident.step, name=EventName.CALL_ERROR,
            payload={"error": error, **_call_payload(ident, response, result)}, actionable=True, meta=meta,
        ),
        BatchEvent(
            step=ident.step, name=EventName.STEP_EXIT,
            payload={"status": "FAILED", "result": result, "error": error, "command_id": ident.command_id},
            actionable=False, meta=dict(meta),
        ),
        BatchEvent(
            step=ident.step, name=EventName.COMMAND_FAILED,
            payload={"command_id": ident.command_id, "worker_id": ident.worker_id, "result": result, "error": error},
            actionable=False,
        ),
    ]  # fmt: skip
