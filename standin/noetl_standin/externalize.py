"""Context-field externalisation: large command fields travel as result references, as on the server.

Above ``NOETL_COMMAND_CONTEXT_FIELD_INLINE_MAX_BYTES`` (8192 by default) the server replaces each of
``tool_config``, ``input``, ``render_context`` and ``spec`` in a command's context by a reference object
``{kind: "result_ref", ref: "noetl://execution/<eid>/result/<step>_<field>/<id>", ...}``; a worker must
resolve it (``GET /api/result/resolve?ref=``). The stand-in does the same when
``externalize_context_field_bytes`` is set, so workers can be tested against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from noetl_wire.results import build_result_uri

from noetl_standin.records import ResultRecord

__all__ = ["EXTERNALIZABLE_FIELDS", "externalize_context"]

EXTERNALIZABLE_FIELDS = ("tool_config", "input", "render_context", "spec")


def externalize_context(
    context: dict[str, Any],
    *,
    execution_id: int,
    command_id: int,
    step: str,
    threshold: int,
    new_id: Callable[[], int],
    encode: Callable[[Any], bytes],
    now: float,
) -> tuple[dict[str, Any], list[ResultRecord]]:
    """Return the context with oversized fields replaced by references, and the results to store."""
    out = dict(context)
    stored: list[ResultRecord] = []
    for field in EXTERNALIZABLE_FIELDS:
        if field not in context:
            continue
        encoded = encode(context[field])
        if len(encoded) <= threshold:
            continue
        name = f"{step}_{field}"
        ref = build_result_uri(execution_id, name, str(new_id()))
        sha256 = hashlib.sha256(encoded).hexdigest()
        store = "kv" if len(encoded) < 1024 * 1024 else "disk"
        stored.append(
            ResultRecord(
                ref=ref,
                execution_id=execution_id,
                name=name,
                data=context[field],
                scope="execution",
                store=store,
                bytes=len(encoded),
                sha256=sha256,
                created_at=now,
                source_step=step,
                correlation={"command_id": command_id, "kind": "command_context_field", "field": field, "step": step},
            )
        )
        out[field] = {
            "kind": "result_ref",
            "ref": ref,
            "store": store,
            "scope": "execution",
            "meta": {"bytes": len(encoded), "sha256": sha256, "content_type": "application/json"},
            "correlation": {"command_id": command_id, "kind": "command_context_field", "field": field, "step": step},
        }
    return out, stored
