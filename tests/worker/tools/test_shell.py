"""``shell``: real ``sh`` processes, process-group kills, clean environments, and quoting."""

from __future__ import annotations

import os
import time

import psutil
import pytest
from noetl_worker.tools.base import ToolConfigError, ToolError, ToolStatus
from noetl_worker.tools.shell import ShellTool

from .conftest import MakeContext

pytestmark = pytest.mark.integration


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


async def test_a_command_reports_exit_code_and_output(ctx: MakeContext) -> None:
    result = await ShellTool().run({"command": "echo out; echo err >&2"}, ctx())
    assert result.ok
    assert result.data == {"exit_code": 0, "stdout": "out\n", "stderr": "err\n"}
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 0)


async def test_a_failing_command_is_an_error_with_its_code(ctx: MakeContext) -> None:
    result = await ShellTool().run({"command": "echo partial; exit 3"}, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.error == "Command exited with code 3"
    assert result.data == {"exit_code": 3, "stdout": "partial\n", "stderr": ""}


async def test_cmds_run_in_order_and_stop_at_the_first_failure(ctx: MakeContext) -> None:
    result = await ShellTool().run({"cmds": ["echo one", "false", "echo never"]}, ctx())
    assert result.status is ToolStatus.ERROR
    assert isinstance(result.data, dict)
    assert result.data["stdout"] == "one\n"
    commands = result.data["commands"]
    assert isinstance(commands, list)
    assert [c["exit_code"] for c in commands] == [0, 1]


async def test_the_environment_is_clean_plus_declared_env(ctx: MakeContext) -> None:
    os.environ["NOETL_TEST_WORKER_SECRET"] = "worker-only"
    try:
        result = await ShellTool().run(
            {"command": 'echo "[$NOETL_TEST_WORKER_SECRET][$GREETING][$N]"', "env": {"GREETING": "hi", "N": 5}}, ctx()
        )
    finally:
        del os.environ["NOETL_TEST_WORKER_SECRET"]
    assert result.stdout == "[][hi][5]\n"


async def test_timeout_kills_the_whole_process_group(ctx: MakeContext) -> None:
    started = time.monotonic()
    result = await ShellTool().run(
        {"command": "sleep 300 & echo $!; sh -c 'sleep 300' & echo $!; sleep 300", "timeout_seconds": 0.5}, ctx()
    )
    assert time.monotonic() - started < 5
    assert result.status is ToolStatus.TIMEOUT
    assert result.error == "Execution timed out after 0.5 seconds"
    pids = [int(line) for line in (result.stdout or "").split()]
    assert len(pids) == 2
    assert all(_gone(pid) for pid in pids), "a child of the timed-out command survived"


async def test_background_jobs_do_not_outlive_a_finished_command(ctx: MakeContext) -> None:
    result = await ShellTool().run({"command": "sleep 300 & echo $!"}, ctx())
    assert result.ok
    assert _gone(int(result.stdout or "0"))


async def test_the_command_deadline_caps_the_timeout(ctx: MakeContext) -> None:
    result = await ShellTool().run({"command": "sleep 30", "timeout_seconds": 600}, ctx(timeout=0.3))
    assert result.status is ToolStatus.TIMEOUT


@pytest.mark.parametrize(
    "hostile",
    [
        "x; touch {marker}",
        "$(touch {marker})",
        "`touch {marker}`",
        "a' ; touch {marker} ; echo '",
        'a" ; touch {marker} ; echo "',
        "x\ntouch {marker}",
        "x && touch {marker} || touch {marker}",
        "{{{{ 7 * 7 }}}}",
    ],
)
async def test_shell_quote_keeps_a_templated_value_one_word(ctx: MakeContext, tmp_path: object, hostile: str) -> None:
    marker = f"{tmp_path}/pwned"
    value = hostile.format(marker=marker)
    result = await ShellTool().run(
        {"command": "printf '%s|' {{ workload.name | shell_quote }}"}, ctx(variables={"workload": {"name": value}})
    )
    assert result.ok
    assert result.stdout == value + "|"
    assert not os.path.exists(marker)


async def test_templated_values_reach_env_safely(ctx: MakeContext) -> None:
    result = await ShellTool().run(
        {"command": 'printf %s "$NAME"', "env": {"NAME": "{{ workload.name }}"}},
        ctx(variables={"workload": {"name": "$(id); rm -rf /"}}),
    )
    assert result.stdout == "$(id); rm -rf /"


async def test_output_beyond_the_limit_is_discarded_and_said_so(ctx: MakeContext) -> None:
    result = await ShellTool().run({"command": "head -c 100000 /dev/zero | tr '\\0' x", "max_output_bytes": 10}, ctx())
    assert result.stdout is not None
    assert result.stdout.startswith("xxxxxxxxxx\n[... 99990 bytes of output discarded ...]")


async def test_a_missing_working_directory_is_a_named_process_error(ctx: MakeContext) -> None:
    with pytest.raises(ToolError, match=r"^Process error: cannot start '/bin/sh' in '/nonexistent/dir'"):
        await ShellTool().run({"command": "true", "cwd": "/nonexistent/dir"}, ctx())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: shell.command: required"),
        ({"cmds": []}, "Configuration error: shell.cmds: must not be empty"),
        ({"cmds": ["ok", 3]}, "Configuration error: shell.cmds[1]: expected a non-empty command string"),
        ({"command": "true", "timeout_seconds": "x"}, "Configuration error: shell.timeout_seconds: expected a number"),
        ({"command": "true", "env": "A=1"}, "Configuration error: shell.env: expected an object, got a string"),
        ({"command": "true", "env": {"A": None}}, "Configuration error: shell.env.A: must not be null"),
        ({"command": "true", "env": {"A=B": "1"}}, "Configuration error: shell.env.A=B: invalid environment"),
    ],
)
async def test_malformed_configs_name_the_key(ctx: MakeContext, config: dict[str, object], message: str) -> None:
    with pytest.raises(ToolConfigError) as err:
        await ShellTool().run(config, ctx())
    assert str(err.value).startswith(message)
