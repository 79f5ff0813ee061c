"""The result budget: what of a tool's data travels inline in the events and what goes to the result store.

- ``response`` (read by the engine for the next step's templates) is the scrubbed tool data when its
  compact JSON fits the inline budget (100 KiB, the server's ``NOETL_EVENT_RESULT_CONTEXT_MAX_BYTES``);
  otherwise the data is stored with ``PUT /api/result/{execution_id}`` and ``response`` is the reference.
- ``result`` (what the server persists) is reference-only: ``{status, context?, reference?}`` where
  ``context`` keeps only the scalar top-level fields of the data, as the server's own worker does
  (``{"items": [...]}`` → no context).
- Tabular data over the budget (a tool's Arrow table, or ``{"columns"?, "rows": [...]}`` as the seed
  detects it) is stored as Arrow IPC stream bytes — far smaller than JSON rows — in a JSON envelope
  ``{"format": "arrow_ipc_stream", "media_type", "encoding": "base64", "row_count", "columns", "data"}``;
  the reference's ``meta`` then says ``media_type: application/vnd.apache.arrow.stream``, ``row_count``
  and ``schema_digest: "arrow"``. pyarrow is imported only on this path.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from noetl_worker.jsontypes import JSONObject, JSONValue

__all__ = [
    "ARROW_MEDIA_TYPE",
    "INLINE_BUDGET_BYTES",
    "ResultTooLargeError",
    "ShapedResult",
    "arrow_envelope",
    "encode_json",
    "is_bulky",
    "json_size",
    "scalar_summary",
    "shape_result",
    "tabular_rows",
]

INLINE_BUDGET_BYTES = 100 * 1024
ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"

Store = Callable[[JSONValue, bytes | None], Awaitable[JSONObject]]
"""``(data, encoded)``: store ``data``; ``encoded`` is its compact JSON when already made (send that as is)."""


class ResultTooLargeError(RuntimeError):
    """The data exceeds the inline budget and could not be stored; the command must fail, not lose data."""


@dataclass(frozen=True, slots=True)
class ShapedResult:
    response: JSONValue
    result: JSONObject


# Dates and dataclasses go through ``default=str`` as with the standard library, not orjson's own spelling.
_SIZE_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_size(value: JSONValue) -> int:
    """Bytes of the compact UTF-8 JSON of ``value`` (NaN and infinities count as ``null``, as events carry them).

    orjson, not ``json.dumps``: a noop command measures its result twice, and the standard library builds an
    encoder per call with these options (about 15 µs each). It refuses integers beyond 64 bits and keys that
    are not strings; those values are measured by the standard library."""
    try:
        return len(orjson.dumps(value, default=str, option=_SIZE_OPTIONS))
    except TypeError:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def encode_json(value: JSONValue) -> bytes:
    """The compact UTF-8 JSON the control plane receives (``json_size`` counts it); ``ValueError`` for NaN."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str).encode()


def _fits(summary: JSONObject, budget: int) -> bool:
    # Its strings alone may already be over the budget (each encodes to at least its length in bytes):
    # then there is no need to serialise a multi-MiB summary only to find out, on the event loop.
    if sum(len(v) for v in summary.values() if isinstance(v, str)) > budget:
        return False
    return json_size(summary) <= budget


# A process's output streams (a failed python step's traceback on stderr) live once, in `response`; the
# summary rides on call.*, step.exit and command.* alike, so copying them there stored them three times more.
_STREAMS = frozenset({"stdout", "stderr"})


def _allowed_in_context(key: str) -> bool:
    # The server's reference-only contract refuses `_internal_data` and legacy `command_*` keys in
    # result.context (with a 500 that no retry can fix), so they never go there.
    return key != "_internal_data" and not key.startswith("command_") and key not in _STREAMS


def scalar_summary(data: JSONValue) -> JSONObject | None:
    """The scalar top-level fields of an object (None when there are none or ``data`` is not an object)."""
    if not isinstance(data, dict):
        return None
    summary: JSONObject = {
        k: v
        for k, v in data.items()
        if (v is None or isinstance(v, str | int | float | bool)) and _allowed_in_context(k)
    }
    return summary or None


def tabular_rows(data: JSONValue) -> tuple[list[str], list[Any]] | None:
    """``(columns, rows)`` when ``data`` (or ``data["data"]``) carries a non-empty ``rows`` array, as the seed
    detects tabular results: column names from ``columns``, else the keys of the first object row."""
    holder = data
    if isinstance(holder, dict) and not isinstance(holder.get("rows"), list) and isinstance(holder.get("data"), dict):
        holder = holder["data"]
    if not isinstance(holder, dict):
        return None
    rows = holder.get("rows")
    if not isinstance(rows, list) or not rows:
        return None
    columns = holder.get("columns")
    if isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns):
        return [str(c) for c in columns], rows
    if isinstance(rows[0], dict) and rows[0]:
        return [str(k) for k in rows[0]], rows
    return None


def _column_values(columns: list[str], rows: list[Any]) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {name: [] for name in columns}
    for row in rows:
        for index, name in enumerate(columns):
            if isinstance(row, dict):
                values[name].append(row.get(name))
            elif isinstance(row, list | tuple):
                values[name].append(row[index] if index < len(row) else None)
            else:
                values[name].append(None)
    return values


def _arrow_array(values: list[Any]) -> Any:
    import pyarrow as pa  # noqa: PLC0415 - heavy; only large tabular results need it

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, type=pa.bool_())
    if present and all(isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63 for v in present):
        return pa.array(values, type=pa.int64())
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    texts = [None if v is None else v if isinstance(v, str) else json.dumps(v, default=str) for v in values]
    return pa.array(texts, type=pa.string())


def arrow_envelope(table: Any = None, *, columns: list[str] | None = None, rows: list[Any] | None = None) -> JSONObject:
    """Encode a ``pyarrow.Table`` (or columns + rows) as one Arrow IPC stream, wrapped for the JSON store."""
    import pyarrow as pa  # noqa: PLC0415 - heavy; only large tabular results need it

    if table is None:
        if columns is None or rows is None:
            raise ValueError("arrow_envelope needs a table, or columns and rows")
        values = _column_values(columns, rows)
        table = pa.table({name: _arrow_array(column) for name, column in values.items()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue().to_pybytes()
    return {
        "format": "arrow_ipc_stream",
        "media_type": ARROW_MEDIA_TYPE,
        "encoding": "base64",
        "row_count": table.num_rows,
        "byte_length": len(payload),
        "columns": list(table.column_names),
        "data": base64.b64encode(payload).decode(),
    }


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


def is_bulky(value: JSONValue, limit: int = 1000) -> bool:
    """A cheap look at the top two levels: big enough that scrubbing or measuring it belongs off the loop."""
    if isinstance(value, str):
        return len(value) > limit * 100
    if not isinstance(value, dict | list):
        return False
    children = value.values() if isinstance(value, dict) else value
    count = len(value)
    for child in children:
        if isinstance(child, dict | list):
            count += len(child)
        elif isinstance(child, str):
            count += len(child) // 100
        if count > limit:
            return True
    return count > limit


async def shape_result(
    data: JSONValue,
    status: str,
    store: Store,
    *,
    budget: int = INLINE_BUDGET_BYTES,
    table: Any = None,
    encoded: bytes | None = None,
) -> ShapedResult:
    """Shape already-scrubbed ``data`` for ``call.done``/``call.error`` (``status`` COMPLETED or FAILED).

    ``table`` is the tool's optional ``pyarrow.Table`` of the same result (used only over the budget);
    ``encoded`` is ``encode_json(data)`` when the caller already made it (off the event loop): it gives the
    size, and it is what goes to the store, so a large result is serialised once.
    """
    result: JSONObject = {"status": status}
    summary = scalar_summary(data)
    if summary is not None and _fits(summary, budget):
        result["context"] = summary
    size = len(encoded) if encoded is not None else json_size(data)
    if size <= budget:
        return ShapedResult(data, result)
    tabular = tabular_rows(data) if table is None else None
    envelope: JSONObject | None = None
    # Encoding thousands of rows is CPU work: keep it off the event loop.
    if table is not None:
        envelope = await asyncio.to_thread(arrow_envelope, table)
    elif tabular is not None:
        envelope = await asyncio.to_thread(arrow_envelope, columns=tabular[0], rows=tabular[1])
    try:
        stored = await store(data, encoded) if envelope is None else await store(envelope, None)
    except Exception as exc:
        raise ResultTooLargeError(
            f"result of {size} bytes exceeds the inline budget of {budget} bytes and could not be stored: {exc}"
        ) from exc
    reference = _reference(stored, size)
    if envelope is not None:
        meta = reference["meta"]
        assert isinstance(meta, dict)
        meta.update(
            media_type=ARROW_MEDIA_TYPE,
            schema_digest="arrow",
            row_count=envelope["row_count"],
            bytes=envelope["byte_length"],
        )
    result["reference"] = reference
    return ShapedResult(reference, result)
