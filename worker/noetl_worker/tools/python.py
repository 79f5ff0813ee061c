"""``python``: run a step's code in a fresh Python subprocess — never ``exec`` inside the worker.

Config keys: ``code`` (required; alias ``code_b64``/``code_base64`` for base64 text), ``input`` (object: the
step's rendered inputs as the NoETL server sends them), ``args`` (object), ``env`` (object),
``timeout_seconds`` (alias ``timeout``; default and cap: the command's deadline), ``python`` (interpreter,
default the worker's own), ``cwd``, ``max_output_bytes``.

The code is *not* template-rendered (``{{`` in Python code stays Python); everything else is. The values of
the command's ``input``, then the config's ``input``, then ``args`` become globals of the code; ``args``,
``input_data`` and ``context`` (the render context plus ``execution_id``/``step``/...) are globals too. The
``result`` global becomes the tool's data; if the code defines ``main`` and sets no ``result``,
``main(**args)`` is called (with the arguments its signature accepts) and its return value is the result.

Every command gets a fresh process in its own session with a clean environment plus ``env``: by default a
fork of the warm runner (:mod:`._forkserver`, an isolated ``python -I`` that never runs user code itself),
otherwise a new ``python -I`` (no user site, no ``PYTHON*`` variables). The whole process group is killed on
timeout, cancellation and exit. Result: success with ``data`` =
``result`` (``{stdout, stderr}`` when the code produced no result); an exception is status error with
``error`` = the exception message (as the NoETL Python worker reports it) and the traceback on ``stderr``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import orjson

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import ConfigReader, render_config
from noetl_worker.tools._forkserver import ForkServer
from noetl_worker.tools._process import DEFAULT_MAX_OUTPUT_BYTES, base_environment, run_process
from noetl_worker.tools.base import ToolContext, ToolResult, ToolStatus
from noetl_worker.tools.shell import env_of

__all__ = ["RUNNER", "PythonTool"]

RUNNER = Path(__file__).with_name("_python_runner.py")
_CODE_KEYS = ("code", "code_b64", "code_base64")
# One encoder for every request (json.dumps with options builds a new one per call). The standard library,
# not orjson: a NaN in the step's input (pydantic reads one from the claim) must reach the step as NaN.
_REQUEST_ENCODER = json.JSONEncoder(default=str)


def _code(cfg: ConfigReader) -> str:
    key = cfg.first_key(*_CODE_KEYS)
    if key is None:
        raise cfg.error("code", "required")
    text = cfg.text(key)
    if key == "code":
        return text
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise cfg.error(key, f"not valid base64-encoded UTF-8 ({exc})") from None


class PythonTool:
    """``warm=True`` (the default) runs commands as forks of a pre-started runner (:mod:`._forkserver`);
    ``warm=False`` starts a new interpreter per command. A step naming another ``python`` always runs cold."""

    kind: ClassVar[str] = "python"

    def __init__(self, *, warm: bool = True) -> None:
        self._warm = warm
        self._server: ForkServer | None = None

    async def aclose(self) -> None:
        if self._server is not None:
            await self._server.aclose()
            self._server = None

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context, raw=_CODE_KEYS)
        code = _code(cfg)
        step_input: JSONObject = {**context.input, **cfg.mapping("input", {})}
        args: JSONObject = cfg.mapping("args", {})
        env = base_environment(env_of(cfg))
        timeout_key = cfg.first_key("timeout_seconds", "timeout") or "timeout_seconds"
        timeout = min(cfg.number(timeout_key, context.remaining(), minimum=0), context.remaining())
        interpreter = cfg.text("python", sys.executable)
        max_output = cfg.integer("max_output_bytes", DEFAULT_MAX_OUTPUT_BYTES, minimum=0)

        marker = f"@@__NOETL_RESULT_{secrets.token_hex(8)}__@@"
        render_context: JSONObject = dict(context.variables)
        render_context.update(
            execution_id=context.execution_id,
            step=context.step,
            server_url=context.server_url,
            worker_id=context.worker_id,
            command_id=context.command_id,
        )
        request = {
            "code": code,
            "globals": {**step_input, **args},
            "args": {**step_input, **args},
            "input": step_input,
            "context": render_context,
            "marker": marker,
            "filename": f"<step {context.step}>",
        }
        payload = _REQUEST_ENCODER.encode(request).encode()
        cwd = cfg.text("cwd", None)
        keep = ("\n" + marker).encode()
        if self._warm and interpreter == sys.executable:
            if self._server is None:
                self._server = ForkServer(sys.executable, RUNNER)
            outcome = await self._server.run(
                payload, env=env, cwd=cwd, time_limit=timeout, max_output_bytes=max_output, keep_stdout_from=keep
            )
        else:
            outcome = await run_process(
                [interpreter, "-I", str(RUNNER)], env=env, cwd=cwd, stdin=payload, time_limit=timeout,
                max_output_bytes=max_output, keep_stdout_from=keep,
            )  # fmt: skip
        stdout, report = _split_marker(outcome.stdout, marker)
        duration = int((time.monotonic() - started) * 1000)
        if outcome.timed_out:
            return ToolResult(
                ToolStatus.TIMEOUT,
                error=f"Execution timed out after {timeout:g} seconds",
                stdout=stdout,
                stderr=outcome.stderr,
                exit_code=-1,
                duration_ms=duration,
            )
        if report is None:
            return ToolResult.failure(
                f"Python script exited with code {outcome.exit_code} without reporting a result",
                data={"stdout": stdout, "stderr": outcome.stderr},
                stdout=stdout,
                stderr=outcome.stderr,
                exit_code=outcome.exit_code,
                duration_ms=duration,
            )
        if not report.get("ok"):
            message = str(report.get("error"))
            return ToolResult.failure(
                message,
                data={"status": "error", "error": message, "error_type": report.get("error_type")},
                stdout=stdout,
                stderr=outcome.stderr,
                exit_code=outcome.exit_code,
                duration_ms=duration,
            )
        result = report.get("result")
        data: JSONValue = {"stdout": stdout, "stderr": outcome.stderr} if result is None else result
        return ToolResult.success(
            data, stdout=stdout, stderr=outcome.stderr, exit_code=outcome.exit_code, duration_ms=duration
        )


def _split_marker(stdout: str, marker: str) -> tuple[str, JSONObject | None]:
    """The user's own output, and the runner's report (the last marker line), if there is one."""
    index = stdout.rfind("\n" + marker)
    if index < 0:
        return stdout, None
    line = stdout[index + 1 + len(marker) :].split("\n", 1)[0]
    try:
        report = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            report = json.loads(line)  # an integer beyond 64 bits, which orjson refuses
        except ValueError:
            return stdout, None
    return stdout[:index], report if isinstance(report, dict) else None
