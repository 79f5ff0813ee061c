"""``noop``: does nothing and says so — the terminal ``end`` step of most playbooks.

The data matches what the NoETL server's own Python worker reports (wire capture, ``tiny``):
``{"status": "noop", "step": "<step>"}``. A config ``result`` replaces it (as the reference's Rust tool
allows), and ``message`` is echoed back when given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import render_config
from noetl_worker.tools.base import ToolContext, ToolResult

__all__ = ["NoopTool"]


class NoopTool:
    kind: ClassVar[str] = "noop"

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        cfg = render_config(self.kind, config, context)
        if cfg.has("result"):
            return ToolResult.success(cfg.raw("result"), duration_ms=0)
        data: JSONObject = {"status": "noop", "step": context.step}
        if cfg.has("message"):
            data["message"] = cfg.text("message", allow_empty=True)
        return ToolResult.success(data, duration_ms=0)
