"""``shell``: run ``sh -c <command>`` (or several commands) in a new process group with a clean environment.

Config keys: ``command`` (string) or ``cmds`` (list of strings; alias ``cmd``), run in order and stopping at
the first failure; ``shell`` (default ``/bin/sh``), ``cwd``, ``env`` (object; values become strings),
``timeout_seconds`` (alias ``timeout``; default and cap: the command's deadline), ``max_output_bytes``
(per stream, default 10 MiB).

Templated values must be quoted with the ``shell_quote`` filter (``echo {{ name | shell_quote }}``): that is
the documented safe form; the value then is always a single shell word, whatever it contains.

Result: success iff every command exits 0; ``data = {exit_code, stdout, stderr}`` (plus ``commands`` with
one entry per command for ``cmds``), the same three at top level, ``error = "Command exited with code N"``.
A timeout kills the whole process group and gives status ``timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import ConfigReader, render_config
from noetl_worker.tools._process import DEFAULT_MAX_OUTPUT_BYTES, base_environment, run_process
from noetl_worker.tools.base import ToolContext, ToolResult, ToolStatus

__all__ = ["ShellTool", "commands_of", "env_of"]

_PREVIEW_CHARS = 200


def commands_of(cfg: ConfigReader) -> tuple[list[str], bool]:
    """The commands to run and whether the config used the list form."""
    key = cfg.first_key("cmds", "cmd", "command")
    if key is None:
        raise cfg.error("command", "required (a string, or `cmds` as a list of strings)")
    value = cfg.data[key]
    if isinstance(value, list):
        commands: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise cfg.error(f"{key}[{index}]", "expected a non-empty command string")
            commands.append(item)
        if not commands:
            raise cfg.error(key, "must not be empty")
        return commands, True
    return [cfg.text(key)], False


def env_of(cfg: ConfigReader) -> dict[str, str]:
    env = cfg.str_map("env", drop_null=False)
    for name in env:
        if not name or "=" in name or "\0" in name:
            raise cfg.error(f"env.{name}", "invalid environment variable name")
    return env


class ShellTool:
    kind: ClassVar[str] = "shell"

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        commands, listed = commands_of(cfg)
        shell = cfg.text("shell", "/bin/sh")
        cwd = cfg.text("cwd", None)
        env = base_environment(env_of(cfg))
        timeout_key = cfg.first_key("timeout_seconds", "timeout") or "timeout_seconds"
        timeout = min(cfg.number(timeout_key, context.remaining(), minimum=0), context.remaining())
        max_output = cfg.integer("max_output_bytes", DEFAULT_MAX_OUTPUT_BYTES, minimum=0)

        runs: list[JSONValue] = []
        stdout: list[str] = []
        stderr: list[str] = []
        exit_code: int | None = 0
        for command in commands:
            remaining = timeout - (time.monotonic() - started)
            outcome = await run_process(
                [shell, "-c", command], env=env, cwd=cwd, time_limit=remaining, max_output_bytes=max_output
            )
            stdout.append(outcome.stdout)
            stderr.append(outcome.stderr)
            exit_code = outcome.exit_code
            runs.append({
                "command": command[:_PREVIEW_CHARS],
                "exit_code": exit_code,
                "stdout": outcome.stdout,
                "stderr": outcome.stderr,
                "duration_ms": outcome.duration_ms,
            })  # fmt: skip
            if outcome.timed_out:
                return ToolResult(
                    ToolStatus.TIMEOUT,
                    error=f"Execution timed out after {timeout:g} seconds",
                    stdout="".join(stdout),
                    stderr="".join(stderr),
                    exit_code=-1,
                    duration_ms=_ms(started),
                )
            if exit_code != 0:
                break

        out, err = "".join(stdout), "".join(stderr)
        data: JSONObject = {"exit_code": exit_code, "stdout": out, "stderr": err}
        if listed:
            data["commands"] = runs
        ok = exit_code == 0
        return ToolResult(
            ToolStatus.SUCCESS if ok else ToolStatus.ERROR,
            data=data,
            error=None if ok else f"Command exited with code {exit_code}",
            stdout=out,
            stderr=err,
            exit_code=exit_code,
            duration_ms=_ms(started),
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
