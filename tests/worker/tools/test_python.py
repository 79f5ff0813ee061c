"""``python``: user code in a real subprocess, the capture's input shape, timeouts that kill."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator

import psutil
import pytest
from noetl_worker.tools.base import ToolConfigError, ToolStatus
from noetl_worker.tools.python import PythonTool

from .conftest import MakeContext

pytestmark = pytest.mark.integration


@pytest.fixture(params=[True, False], ids=["warm", "cold"])
async def python_tool(request: pytest.FixtureRequest) -> AsyncIterator[PythonTool]:
    """Every behaviour holds for both runners: forks of the warm runner, and a new interpreter per command."""
    tool = PythonTool(warm=request.param)
    yield tool
    await tool.aclose()


async def test_the_capture_tiny_step_doubles_its_input(ctx: MakeContext, python_tool: PythonTool) -> None:
    # Verbatim tool_config of the `start` step in noetl-wire-capture/tiny.
    config = {"code": 'result = {"value": int(base) * 2}\n', "spec": None, "input": {"base": 7}, "output": None}
    result = await python_tool.run(config, ctx(step="start"))
    assert result.ok, result.stderr
    assert result.data == {"value": 14}
    assert result.exit_code == 0


async def test_an_exception_is_an_error_carrying_its_message_like_the_capture(
    ctx: MakeContext, python_tool: PythonTool
) -> None:
    config = {"code": 'raise ValueError("intentional failure for conformance capture")\n'}
    result = await python_tool.run(config, ctx(step="boom"))
    assert result.status is ToolStatus.ERROR
    assert result.error == "intentional failure for conformance capture"
    assert result.data == {
        "status": "error",
        "error": "intentional failure for conformance capture",
        "error_type": "ValueError",
    }
    assert "Traceback" in (result.stderr or "")


async def test_a_failure_keeps_the_user_s_frames_and_the_error_once_and_no_runner_internals(
    ctx: MakeContext, python_tool: PythonTool
) -> None:
    code = "def parse(row):\n    return int(row)\n\ndef main():\n    return parse('x1')\n"
    result = await python_tool.run({"code": code}, ctx(step="boom"))
    assert result.status is ToolStatus.ERROR
    stderr = result.stderr or ""
    assert stderr.count("Traceback") == 1, stderr
    assert stderr.count("ValueError: invalid literal for int() with base 10: 'x1'") == 1, stderr
    assert "in main" in stderr, stderr
    assert "in parse" in stderr, stderr
    assert "_python_runner" not in stderr, stderr
    assert "noetl_worker" not in stderr, stderr


async def test_command_input_config_input_and_args_become_globals(ctx: MakeContext, python_tool: PythonTool) -> None:
    context = ctx(input={"x": 1, "y": 1})
    config = {"code": "result = [x, y, z, sorted(args), input_data['y']]", "input": {"y": 2}, "args": {"z": 3}}
    result = await python_tool.run(config, context)
    assert result.data == [1, 2, 3, ["x", "y", "z"], 2]


async def test_the_render_context_is_available_as_context(ctx: MakeContext, python_tool: PythonTool) -> None:
    context = ctx(step="square", variables={"start": {"value": 14}})
    result = await python_tool.run({"code": "result = [context['start']['value'], step, execution_id]"}, context)
    assert result.data == [14, "square", 7]


async def test_main_is_called_with_the_arguments_it_accepts(ctx: MakeContext, python_tool: PythonTool) -> None:
    kwargs = await python_tool.run({"code": "def main(**a):\n    return a", "args": {"p": 1, "q": 2}}, ctx())
    assert kwargs.data == {"p": 1, "q": 2}
    named = await python_tool.run({"code": "def main(p):\n    return p * 10", "args": {"p": 4, "q": 2}}, ctx())
    assert named.data == 40


async def test_code_is_not_template_rendered_but_args_are(ctx: MakeContext, python_tool: PythonTool) -> None:
    context = ctx(variables={"workload": {"n": 5}})
    config = {"code": "result = {'literal': '{{ workload.n }}', 'n': n}", "args": {"n": "{{ workload.n }}"}}
    result = await python_tool.run(config, context)
    assert result.data == {"literal": "{{ workload.n }}", "n": 5}


async def test_print_output_is_kept_apart_from_the_result(ctx: MakeContext, python_tool: PythonTool) -> None:
    code = "print('hello')\nprint('@@__NOETL_RESULT__@@{\"fake\": 1}')\nresult = {'ok': True}"
    result = await python_tool.run({"code": code}, ctx())
    assert result.data == {"ok": True}
    assert result.stdout == 'hello\n@@__NOETL_RESULT__@@{"fake": 1}\n'


async def test_a_chatty_script_still_returns_its_result(ctx: MakeContext, python_tool: PythonTool) -> None:
    code = "import sys\nsys.stdout.write('x' * 300000)\nresult = 'done'"
    result = await python_tool.run({"code": code, "max_output_bytes": 1000}, ctx())
    assert result.data == "done"
    assert "bytes of output discarded" in (result.stdout or "")


async def test_non_json_values_become_precise_text_not_null(ctx: MakeContext, python_tool: PythonTool) -> None:
    code = (
        "import datetime, decimal, uuid\n"
        "result = {'d': decimal.Decimal('1.10'), 't': datetime.date(2026, 1, 2), 'b': b'\\x00\\x01',"
        " 'u': uuid.UUID(int=1), 's': {3}, 'nan': float('nan')}"
    )
    result = await python_tool.run({"code": code}, ctx())
    assert result.data == {
        "d": "1.10",
        "t": "2026-01-02",
        "b": base64.b64encode(b"\x00\x01").decode(),
        "u": "00000000-0000-0000-0000-000000000001",
        "s": [3],
        "nan": "nan",
    }


async def test_no_result_gives_the_output(ctx: MakeContext, python_tool: PythonTool) -> None:
    result = await python_tool.run({"code": "print('only output')"}, ctx())
    assert result.data == {"stdout": "only output\n", "stderr": ""}


async def test_a_hard_exit_without_a_report_is_an_error(ctx: MakeContext, python_tool: PythonTool) -> None:
    result = await python_tool.run({"code": "import os\nos._exit(4)"}, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.error == "Python script exited with code 4 without reporting a result"


async def test_sys_exit_nonzero_is_an_error(ctx: MakeContext, python_tool: PythonTool) -> None:
    result = await python_tool.run({"code": "import sys\nsys.exit(3)"}, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.error == "SystemExit: 3"


async def test_the_environment_is_clean_plus_declared_env(ctx: MakeContext, python_tool: PythonTool) -> None:
    os.environ["NOETL_TEST_WORKER_SECRET"] = "worker-only"
    try:
        code = "import os\nresult = [os.environ.get('NOETL_TEST_WORKER_SECRET'), os.environ.get('MODE')]"
        result = await python_tool.run({"code": code, "env": {"MODE": "batch"}}, ctx())
    finally:
        del os.environ["NOETL_TEST_WORKER_SECRET"]
    assert result.data == [None, "batch"]


async def test_the_worker_process_is_untouched_by_user_code(ctx: MakeContext, python_tool: PythonTool) -> None:
    result = await python_tool.run({"code": "import os\nresult = os.getpid()"}, ctx())
    assert result.data != os.getpid()


async def test_timeout_kills_the_process_group(ctx: MakeContext, python_tool: PythonTool) -> None:
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    started = time.monotonic()
    result = await python_tool.run({"code": code, "timeout_seconds": 1}, ctx())
    assert time.monotonic() - started < 5
    assert result.status is ToolStatus.TIMEOUT
    assert result.error == "Execution timed out after 1 seconds"
    pid = int((result.stdout or "").split()[0])
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the grandchild survived the timeout"
        time.sleep(0.02)


async def test_base64_code_is_accepted(ctx: MakeContext, python_tool: PythonTool) -> None:
    encoded = base64.b64encode(b"result = 6 * 7").decode()
    assert (await python_tool.run({"code_b64": encoded}, ctx())).data == 42


async def test_syntax_errors_are_reported_as_errors(ctx: MakeContext, python_tool: PythonTool) -> None:
    result = await python_tool.run({"code": "def broken(:\n"}, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.data["error_type"] == "SyntaxError"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: python.code: required"),
        ({"code": ["x"]}, "Configuration error: python.code: expected a string, got a list"),
        ({"code": "x", "args": [1]}, "Configuration error: python.args: expected an object, got a list"),
        ({"code": "x", "input": "s"}, "Configuration error: python.input: expected an object, got a string"),
        ({"code_b64": "%%%"}, "Configuration error: python.code_b64: not valid base64"),
        ({"code": "x", "timeout_seconds": -1}, "Configuration error: python.timeout_seconds: must be >= 0"),
    ],
)
async def test_malformed_configs_name_the_key(
    ctx: MakeContext, python_tool: PythonTool, config: dict[str, object], message: str
) -> None:
    with pytest.raises(ToolConfigError) as err:
        await python_tool.run(config, ctx())
    assert str(err.value).startswith(message)


async def test_secrets_are_not_in_the_code_s_context(ctx: MakeContext, python_tool: PythonTool) -> None:
    context = ctx(secrets={"API_TOKEN": "tok-very-secret"}, variables={"workload": {"x": 1}})
    code = "import os, json\nresult = 'tok-very-secret' in json.dumps(context) + json.dumps(dict(os.environ))"
    result = await python_tool.run({"code": code}, context)
    assert result.data is False
    explicit = await python_tool.run(
        {"code": "result = token[:3]", "args": {"token": "{{ keychain.API_TOKEN }}"}}, context
    )
    assert explicit.data == "tok"  # a step that wants a secret passes it explicitly


async def test_large_inputs_reach_the_code_whole(ctx: MakeContext, python_tool: PythonTool) -> None:
    blob = "x" * 3_000_000  # far beyond a pipe buffer
    result = await python_tool.run({"code": "result = [len(blob), blob[-3:]]", "input": {"blob": blob}}, ctx())
    assert result.data == [3_000_000, "xxx"]
