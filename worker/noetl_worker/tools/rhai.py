"""``rhai``: run a Rhai script (the documented subset, see ``docs/rhai.md``) in the sandboxed interpreter.

Config keys (reference §3.1): ``code`` (required; alias ``script``) and ``args`` (object). The whole
config is template-rendered first, ``code`` included, as the reference does. Added by this pool:
``limits`` (object) lowers the pool's limits for this step — any field of
:class:`~noetl_worker.rhai.RhaiLimits`, e.g. ``max_operations`` or ``max_wall_time`` (seconds) — it can
never raise them; the command's deadline also caps the wall time.

Scope, in push order (later names shadow earlier ones): each ``args`` entry as a string (the reference
only accepts string args; other JSON values arrive as their JSON text, which undoes the template
engine's typing of rendered values), then every render-context variable, then ``execution_id``,
``step`` and ``server_url``.

Result: success with ``data`` = the last statement's value as JSON (maps → objects, arrays → lists,
unit → null) and ``stdout`` = the lines the script emitted (``print`` as is, the others prefixed with
their level). Any script error or limit breach raises :class:`ToolError` ``Script error: Rhai error:
line L, column C: ...`` — the executor reports it as ``call.error``, like the reference's ``Err``.
The interpreter runs in a worker thread so the event loop never blocks; cancellation stops it at its
next limit check.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import ClassVar

from noetl_worker.jsontypes import JSONValue
from noetl_worker.rhai import DEFAULT_LIMITS, RhaiError, RhaiLimits, RhaiOutcome, run_script
from noetl_worker.tools._config import ConfigReader, render_config
from noetl_worker.tools.base import ToolContext, ToolError, ToolResult

__all__ = ["RhaiTool"]

_LOG_LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _args(cfg: ConfigReader) -> list[tuple[str, JSONValue]]:
    return [
        (name, value if isinstance(value, str) else json.dumps(value))
        for name, value in cfg.mapping("args", {}).items()
    ]


def _limits(cfg: ConfigReader, base: RhaiLimits, remaining: float) -> RhaiLimits:
    overrides = dict(cfg.mapping("limits", {}))
    try:
        limits = base.tightened(overrides)
    except ValueError as exc:
        raise cfg.error("limits", str(exc)) from None
    if remaining < limits.max_wall_time:
        limits = limits.tightened({"max_wall_time": max(remaining, 0.001)})
    return limits


def _stdout(outcome: RhaiOutcome) -> str | None:
    lines = [text if level == "print" else f"[{level}] {text}" for level, text in outcome.output]
    if outcome.dropped_lines:
        lines.append(f"[rhai] {outcome.dropped_lines} more output lines dropped")
    return "\n".join(lines) if lines else None


class RhaiTool:
    """The ``rhai`` kind. ``limits`` are the pool's ceilings (a step's ``limits`` may only lower them)."""

    kind: ClassVar[str] = "rhai"

    def __init__(self, limits: RhaiLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        key = cfg.first_key("code", "script")
        if key is None:
            raise cfg.error("code", "required")
        code = cfg.text(key)
        limits = _limits(cfg, self.limits, context.remaining())
        scope: list[tuple[str, JSONValue]] = _args(cfg)
        scope.extend(context.variables.items())
        scope += [("execution_id", context.execution_id), ("step", context.step), ("server_url", context.server_url)]

        cancel = threading.Event()
        try:
            outcome = await asyncio.to_thread(run_script, code, scope, limits, cancel=cancel)
        except asyncio.CancelledError:
            cancel.set()  # the thread cannot be killed; this makes it stop at its next check
            raise
        except RhaiError as exc:
            raise ToolError(f"Script error: Rhai error: {exc}") from None

        if context.logger is not None:
            for level, text in outcome.output:
                if level in _LOG_LEVELS:
                    context.logger.log(_LOG_LEVELS[level], "rhai %s: %s", context.step, text)
        return ToolResult.success(
            outcome.value,
            stdout=_stdout(outcome),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
