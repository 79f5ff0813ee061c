"""``result_fetch``: resolve a stored result reference through the control plane's result store.

Config keys: ``ref`` (required; ``noetl://execution/<eid>/result/<step>/<id>`` or any ``noetl://`` URI),
``prefer`` (``http`` | ``flight``; Arrow Flight is not implemented, both resolve over HTTP).

The value comes from ``GET /api/result/resolve?ref=<ref>`` via ``context.control_plane``. Result: success
with ``data`` = the stored value; an unknown reference is status error ``Result not found: <ref>``; an
unreachable control plane raises ``HTTP error: …``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar

from noetl_worker.jsontypes import JSONValue
from noetl_worker.tools._config import render_config
from noetl_worker.tools.base import ToolContext, ToolError, ToolResult

__all__ = ["ResultFetchTool"]

_PREFER = frozenset({"http", "flight"})


class ResultFetchTool:
    kind: ClassVar[str] = "result_fetch"

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        ref = cfg.text("ref")
        if not ref.startswith("noetl://"):
            raise cfg.error("ref", "must be a noetl:// reference")
        prefer = cfg.text("prefer", "http")
        if prefer not in _PREFER:
            raise cfg.error("prefer", "expected http or flight")
        if context.control_plane is None:
            raise ToolError("HTTP error: result_fetch needs the control plane, and none is configured")
        try:
            value = await context.control_plane.resolve_result(ref)
        except LookupError:
            return ToolResult.failure(
                f"Result not found: {ref}", data={"status": "error", "ref": ref, "error": "not found"},
                duration_ms=_ms(started),
            )  # fmt: skip
        except Exception as exc:  # whatever the control-plane client raises for transport/HTTP failures
            raise ToolError(f"HTTP error: resolving {ref}: {exc}") from None
        return ToolResult.success(value, duration_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
