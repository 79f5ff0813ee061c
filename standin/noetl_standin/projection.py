"""The command projection: how events move a ``noetl.command`` row (pure functions).

``command.started`` → RUNNING; ``command.completed``/``failed``/``cancelled`` → terminal. A terminal
row is never downgraded, so a late or duplicated ``command.started`` cannot resurrect a finished command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl_standin.records import CommandRecord, CommandStatus

__all__ = ["TERMINAL_BY_EVENT", "apply_event", "find_command_id", "find_error"]

TERMINAL_BY_EVENT = {
    "command.completed": CommandStatus.COMPLETED,
    "command.failed": CommandStatus.FAILED,
    "command.cancelled": CommandStatus.CANCELLED,
}


def _as_id(value: object) -> int | str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value:
        return int(value) if value.isascii() and value.isdigit() else value
    return None


def find_command_id(payload: Mapping[str, Any], meta: Mapping[str, Any] | None) -> int | str | None:
    """Where the server looks for the command id, in its order: payload, meta, nested contexts."""
    candidates: list[object] = [payload.get("command_id")]
    if meta:
        candidates.append(meta.get("command_id"))
    context = payload.get("context")
    if isinstance(context, Mapping):
        candidates.append(context.get("command_id"))
    result = payload.get("result")
    if isinstance(result, Mapping):
        candidates.append(result.get("command_id"))
        result_context = result.get("context")
        if isinstance(result_context, Mapping):
            candidates.append(result_context.get("command_id"))
    for candidate in candidates:
        found = _as_id(candidate)
        if found is not None:
            return found
    return None


def find_error(payload: Mapping[str, Any]) -> str | None:
    """``payload.error`` or ``payload.result.error``, stringified and capped like the server (2000 chars)."""
    error = payload.get("error")
    if error is None:
        result = payload.get("result")
        if isinstance(result, Mapping):
            error = result.get("error")
    if error is None:
        return None
    return str(error)[:2000]


def apply_event(command: CommandRecord, event_type: str, payload: Mapping[str, Any], event_id: int, now: float) -> bool:
    """Apply one event to its command row; return True when the row changed."""
    if command.terminal:
        return False
    if event_type == "command.started":
        command.status = CommandStatus.RUNNING
        command.started_at = now
    elif event_type in TERMINAL_BY_EVENT:
        command.status = TERMINAL_BY_EVENT[event_type]
        command.completed_at = now
        result = payload.get("result")
        command.result = dict(result) if isinstance(result, Mapping) else None
        command.error = find_error(payload)
    else:
        return False
    command.updated_at = now
    command.latest_event_id = event_id
    return True
