"""The ``rhai`` tool adapter: config, scope order, result shape, errors as ToolError, threading."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
from noetl_worker.rhai import RhaiLimitError, RhaiLimits, run_script
from noetl_worker.tools import rhai as rhai_tool
from noetl_worker.tools.base import ToolConfigError, ToolContext, ToolError, ToolStatus
from noetl_worker.tools.registry import default_registry
from noetl_worker.tools.rhai import RhaiTool

pytestmark = pytest.mark.unit


def make_context(variables: dict[str, Any] | None = None, timeout: float = 60.0, **extra: Any) -> ToolContext:
    return ToolContext(
        execution_id=7,
        step="transform",
        command_id=42,
        worker_id="w-test",
        server_url="http://127.0.0.1:1",
        deadline=time.monotonic() + timeout,
        variables=dict(variables or {}),
        **extra,
    )


async def test_result_is_the_last_value_as_json() -> None:
    result = await RhaiTool().run({"kind": "rhai", "code": "let m = #{b: [1, ()], a: 2.5}; m"}, make_context())
    assert result.status is ToolStatus.SUCCESS
    assert result.data == {"a": 2.5, "b": [1, None]}
    assert result.stdout is None
    assert result.duration_ms is not None


async def test_unit_result_is_null() -> None:
    assert (await RhaiTool().run({"code": "let x = 1;"}, make_context())).data is None


async def test_scope_order_args_then_variables_then_identity() -> None:
    context = make_context({"workload": {"n": 3}, "who": "ctx", "step": "shadowed by the real step"})
    code = "[who, workload.n * 2, execution_id, step, server_url, type_of(count), flag]"
    config = {"code": code, "args": {"who": "arg", "count": 5, "flag": True}}
    result = await RhaiTool().run(config, context)
    # `who` from the context shadows the arg; non-string args arrive as JSON text (the reference only
    # accepts strings); execution_id/step/server_url are pushed last.
    assert result.data == ["ctx", 6, 7, "transform", "http://127.0.0.1:1", "string", "true"]


async def test_args_are_strings() -> None:
    result = await RhaiTool().run(
        {"code": "parse_int(n) + 1 + to_json(obj).len() * 0", "args": {"n": "41", "obj": {"a": 1}}}, make_context()
    )
    assert result.data == 42


async def test_script_alias_and_template_rendering() -> None:
    context = make_context({"start": {"value": 14}})
    result = await RhaiTool().run({"script": "let v = {{ start.value }}; v * 3"}, context)
    assert result.data == 42


async def test_output_goes_to_stdout_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.LoggerAdapter(logging.getLogger("test.rhai"), {})
    code = 'print("plain"); info("note"); warn("careful"); debug([1]); 0'
    with caplog.at_level(logging.INFO, logger="test.rhai"):
        result = await RhaiTool().run({"code": code}, make_context(logger=logger))
    assert result.stdout == "plain\n[info] note\n[warn] careful\n[debug] [1]"
    assert [r.getMessage() for r in caplog.records] == ["rhai transform: note", "rhai transform: careful"]


async def test_script_error_is_a_tool_error_with_position() -> None:
    with pytest.raises(ToolError) as info:
        await RhaiTool().run({"code": "let a = [1];\nlet b = a[3];"}, make_context())
    assert str(info.value) == (
        "Script error: Rhai error: line 2, column 10: array index 3 out of bounds for array of length 1"
    )


async def test_syntax_error_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match=r"Script error: Rhai error: line 1, column 1: unsupported syntax: 'import'"):
        await RhaiTool().run({"code": 'import "x" as y;'}, make_context())


async def test_network_host_functions_are_disabled() -> None:
    with pytest.raises(ToolError, match="host function `http_post` is disabled in this pool"):
        await RhaiTool().run({"code": 'http_post("http://example.com", "{}")'}, make_context())


async def test_missing_code_is_a_config_error() -> None:
    with pytest.raises(ToolConfigError, match=r"Configuration error: rhai.code: required"):
        await RhaiTool().run({"args": {}}, make_context())


async def test_bad_limits_are_config_errors() -> None:
    with pytest.raises(ToolConfigError, match=r"rhai.limits: unknown limit 'max_fun'"):
        await RhaiTool().run({"code": "1", "limits": {"max_fun": 1}}, make_context())
    with pytest.raises(ToolConfigError, match=r"rhai.limits: expected an object"):
        await RhaiTool().run({"code": "1", "limits": 5}, make_context())


async def test_step_limits_only_lower_the_pool_limits() -> None:
    tool = RhaiTool(RhaiLimits(max_operations=50_000))
    with pytest.raises(ToolError, match="too many operations: the limit is 1000"):
        await tool.run({"code": "loop {}", "limits": {"max_operations": 1000}}, make_context())
    with pytest.raises(ToolError, match="too many operations: the limit is 50000"):
        await tool.run({"code": "loop {}", "limits": {"max_operations": 10**9}}, make_context())


async def test_command_deadline_caps_wall_time() -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match="wall-clock limit"):
        await RhaiTool().run({"code": "loop {}"}, make_context(timeout=0.3))
    assert time.monotonic() - started < 3


async def test_event_loop_keeps_running_while_a_script_runs() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        with pytest.raises(ToolError, match="wall-clock limit"):
            await RhaiTool(RhaiLimits(max_wall_time=0.5)).run({"code": "loop {}"}, make_context())
    finally:
        task.cancel()
    assert ticks >= 10


async def test_cancellation_stops_the_interpreter_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Record how the real interpreter call in the worker thread ends.
    finished: list[BaseException | None] = []
    done = threading.Event()

    def recording_run_script(*args: Any, **kwargs: Any) -> Any:
        try:
            outcome = run_script(*args, **kwargs)
        except BaseException as exc:
            finished.append(exc)
            raise
        finally:
            done.set()
        finished.append(None)
        return outcome

    monkeypatch.setattr(rhai_tool, "run_script", recording_run_script)
    task = asyncio.create_task(RhaiTool(RhaiLimits(max_wall_time=30)).run({"code": "loop {}"}, make_context()))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The thread cannot be killed, but it stops at its next check instead of spinning for 30 s.
    assert await asyncio.to_thread(done.wait, 5)
    assert isinstance(finished[0], RhaiLimitError)
    assert "script cancelled" in str(finished[0])


def test_registry_resolves_the_kind() -> None:
    tool = default_registry().get("rhai")
    assert isinstance(tool, RhaiTool)
