"""The result budget: what of a tool's data travels inline in the events and what goes to the result store.

- ``response`` (read by the engine for the next step's templates) is the scrubbed tool data when its
  compact JSON fits the inline budget (100 KiB, the server's ``NOETL_EVENT_RESULT_CONTEXT_MAX_BYTES``);
  otherwise the data is stored with ``PUT /api/result/{execution_id}`` and ``response`` is the reference.
- ``result`` (what the server persists) is reference-only: ``{status, context?, reference?}`` where
  ``context`` keeps only the scalar top-level fields of the data, as the server's own worker does
  (``{"items": [...]}`` → no context).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from noetl_worker.jsontypes import JSONObject, JSONValue

__all__ = ["INLINE_BUDGET_BYTES", "ResultTooLargeError", "ShapedResult", "json_size", "scalar_summary", "shape_result"]

INLINE_BUDGET_BYTES = 100 * 1024

Store = Callable[[JSONValue], Awaitable[JSONObject]]


class ResultTooLargeError(RuntimeError):
    """The data exceeds the inline budget and could not be stored; the command must fail, not lose data."""


@dataclass(frozen=True, slots=True)
class ShapedResult:
    response: JSONValue
    result: JSONObject


def json_size(value: JSONValue) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def scalar_summary(data: JSONValue) -> JSONObject | None:
    """The scalar top-level fields of an object (None when there are none or ``data`` is not an object)."""
    if not isinstance(data, dict):
        return None
    summary: JSONObject = {k: v for k, v in data.items() if v is None or isinstance(v, str | int | float | bool)}
    return summary or None


def _reference(stored: JSONObject, size: int) -> JSONObject:
    reference: JSONObject = {
        "kind": "result_ref",
        "ref": stored.get("ref"),
        "store": stored.get("store"),
        "scope": stored.get("scope", "execution"),
        "meta": {
            "bytes": stored.get("bytes") or size,
            "sha256": stored.get("sha256"),
            "media_type": "application/json",
            "content_type": "application/json",
        },
    }
    if stored.get("expires_at"):
        reference["expires_at"] = stored["expires_at"]
    return reference


async def shape_result(
    data: JSONValue, status: str, store: Store, *, budget: int = INLINE_BUDGET_BYTES
) -> ShapedResult:
    """Shape already-scrubbed ``data`` for ``call.done``/``call.error`` (``status`` COMPLETED or FAILED)."""
    result: JSONObject = {"status": status}
    summary = scalar_summary(data)
    if summary is not None and json_size(summary) <= budget:
        result["context"] = summary
    size = json_size(data)
    if size <= budget:
        return ShapedResult(data, result)
    try:
        stored = await store(data)
    except Exception as exc:
        raise ResultTooLargeError(
            f"result of {size} bytes exceeds the inline budget of {budget} bytes and could not be stored: {exc}"
        ) from exc
    reference = _reference(stored, size)
    result["reference"] = reference
    return ShapedResult(reference, result)
