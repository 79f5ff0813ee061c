"""The NATS command pointer: the small JSON message the server publishes on ``noetl.commands``.

A pointer only tells a worker which command to claim; the claim returns the command itself. Decoding
is on the hot path of every delivery, so the model uses strict core-validated types only (no Python
validators: about a microsecond per message), and a failure is reported as ``PointerDecodeError``
naming the first bad field, so a poison message can be terminated with a useful log line.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

__all__ = ["CommandPointer", "PointerDecodeError", "decode_pointer", "encode_pointer"]

_PointerId = Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)]


class PointerDecodeError(ValueError):
    """A NATS message is not a valid command pointer; ``field`` names the offending field, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CommandPointer(BaseModel):
    """``{execution_id, event_id, command_id, step, server_url}``; unknown fields are ignored.

    ``execution_id`` and ``event_id`` must be JSON integers (a string is an error, as in the reference
    worker). ``event_id`` is the id of the ``command.issued`` event and the path parameter of the claim
    call. ``command_id`` is a JSON integer, or a string from older servers (a digit string is turned
    into an int by ``decode_pointer``). ``server_url`` is where the worker sends the claim and every
    event for this command.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    execution_id: _PointerId
    event_id: _PointerId
    command_id: _PointerId | Annotated[str, Strict(), Field(min_length=1)]
    step: Annotated[str, Strict()]
    server_url: Annotated[str, Strict()]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, float):
        return f"a float ({value!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, int):
        return f"the integer {value}"
    return type(value).__name__


_EXPECTED = {
    "execution_id": "a JSON integer",
    "event_id": "a JSON integer",
    "command_id": "a JSON string or a JSON integer",
    "step": "a JSON string",
    "server_url": "a JSON string",
}


# Snowflakes are signed 64-bit integers: the same bound the integer branch of ``_PointerId`` enforces.
_MAX_ID = 2**63 - 1
_MAX_ID_DIGITS = len(str(_MAX_ID))

_SPECIFIC = frozenset({"greater_than_equal", "less_than_equal", "string_too_short"})


def _explain(exc: ValidationError) -> PointerDecodeError:
    errors = exc.errors(include_url=False)
    error = errors[0]
    # A union field reports one error per branch; a range/length error says more than "wrong type".
    for candidate in errors:
        if candidate["loc"][:1] == error["loc"][:1] and candidate["type"] in _SPECIFIC:
            error = candidate
            break
    if error["type"] == "json_invalid":
        return PointerDecodeError(f"command pointer is not valid JSON: {error['msg']}")
    if error["type"] == "model_type" or not error["loc"]:
        return PointerDecodeError(f"command pointer must be a JSON object, got {_describe(error['input'])}")
    field = str(error["loc"][0])
    if error["type"] == "missing":
        return PointerDecodeError(f"command pointer is missing required field {field!r}", field=field)
    value = error["input"]
    if error["type"] in ("greater_than_equal", "less_than_equal"):
        return PointerDecodeError(f"command pointer field {field!r} is out of range: {value}", field=field)
    if error["type"] == "string_too_short":
        return PointerDecodeError(f"command pointer field {field!r} must not be an empty string", field=field)
    expected = _EXPECTED.get(field, "valid")
    message = f"command pointer field {field!r} must be {expected}, got {_describe(value)}"
    return PointerDecodeError(message, field=field)


def decode_pointer(data: bytes | bytearray | memoryview | str) -> CommandPointer:
    """Decode one NATS message body into a ``CommandPointer`` or raise ``PointerDecodeError``."""
    try:
        pointer = CommandPointer.model_validate_json(data if not isinstance(data, memoryview) else bytes(data))
    except ValidationError as exc:
        raise _explain(exc) from None
    command_id = pointer.command_id
    if type(command_id) is str and command_id.isascii() and command_id.isdigit():
        # Older servers sent the id as a digit string; one representation downstream keeps comparisons simple.
        # The length test comes first: int() of a huge digit string is slow and refuses > 4300 digits.
        if len(command_id) > _MAX_ID_DIGITS or int(command_id) > _MAX_ID:
            raise PointerDecodeError(
                f"command pointer field 'command_id' is out of range: {command_id[:40]}", field="command_id"
            )
        return pointer.model_copy(update={"command_id": int(command_id)})
    return pointer


def encode_pointer(pointer: CommandPointer) -> bytes:
    """Serialise a pointer exactly as the server publishes it (ids as JSON integers, compact)."""
    return json.dumps(
        {
            "execution_id": pointer.execution_id,
            "event_id": pointer.event_id,
            "command_id": pointer.command_id,
            "step": pointer.step,
            "server_url": pointer.server_url,
        },
        separators=(",", ":"),
    ).encode()
