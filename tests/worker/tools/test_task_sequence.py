"""``task_sequence``: real sub-tools through the registry, `_prev`/`_results`, policy rules, auth per task."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from noetl_worker.control_plane.client import BoundControlPlane
from noetl_worker.tools.base import ToolConfigError, ToolError, ToolStatus
from noetl_worker.tools.task_sequence import TaskSequenceTool

from .conftest import MakeContext, seed_credential
from .peers import echo_app, serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    with serving(echo_app()) as url:
        yield url


async def test_tasks_run_in_order_and_see_prev_and_results(ctx: MakeContext) -> None:
    config = {
        "tasks": [
            {"first": {"kind": "python", "code": "result = {'n': 2}"}},
            {"second": {"kind": "python", "args": {"p": "{{ _prev.n }}"}, "code": "result = {'n': p * 10}"}},
            {"third": {"kind": "noop", "result": {"sum": "{{ _results.first.n + _prev.n }}", "task": "{{ _task }}"}}},
        ]
    }
    result = await TaskSequenceTool().run(config, ctx())
    assert result.ok, result.error
    assert result.data == {"first": {"n": 2}, "second": {"n": 20}, "third": {"sum": 22, "task": "third"}}


async def test_the_bare_list_envelope_and_named_tasks_are_accepted(ctx: MakeContext) -> None:
    config = {"tool_config": [{"name": "a", "kind": "noop", "result": 1}, {"name": "b", "kind": "noop", "result": 2}]}
    result = await TaskSequenceTool().run(config, ctx())
    assert result.data == {"a": 1, "b": 2}


async def test_the_first_failure_stops_the_pipeline(ctx: MakeContext) -> None:
    config = {"tasks": [
        {"ok": {"kind": "noop", "result": "fine"}},
        {"boom": {"kind": "python", "code": "raise RuntimeError('broken')"}},
        {"never": {"kind": "noop"}},
    ]}  # fmt: skip
    result = await TaskSequenceTool().run(config, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.error == "broken"
    assert result.data == {"labeled_results": {"ok": "fine"}, "failed_task": 1, "failed_label": "boom"}


async def test_retry_with_backoff_until_the_task_succeeds(ctx: MakeContext, tmp_path: object) -> None:
    counter = f"{tmp_path}/attempts"
    code = (
        f"import pathlib\np = pathlib.Path({counter!r})\nn = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\nif n < 3:\n    raise RuntimeError(f'attempt {n}')\nresult = {'attempts': n}"
    )
    rules = [{"when": "{{ outcome.status == 'error' }}",
              "then": {"do": "retry", "attempts": 5, "backoff": "exponential", "delay": 0.05}}]  # fmt: skip
    config = {"tasks": [{"flaky": {"kind": "python", "code": code, "spec": {"policy": {"rules": rules}}}}]}
    started = time.monotonic()
    result = await TaskSequenceTool().run(config, ctx())
    assert result.ok, result.error
    assert result.data == {"flaky": {"attempts": 3}}
    assert time.monotonic() - started >= 0.05 + 0.1  # exponential: 0.05 s, then 0.1 s


async def test_retries_are_bounded_by_attempts(ctx: MakeContext) -> None:
    rules = [{"when": "outcome.status == 'error'", "then": {"do": "retry", "attempts": 2, "delay": 0}}]
    config = {
        "tasks": [{"bad": {"kind": "shell", "command": "echo try; exit 1", "spec": {"policy": {"rules": rules}}}}]
    }
    result = await TaskSequenceTool().run(config, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.error == "Command exited with code 1"


async def test_continue_break_jump_and_set(ctx: MakeContext) -> None:
    config = {"tasks": [
        {"tolerated": {"kind": "shell", "command": "exit 2", "spec": {"policy": {"rules": [
            {"when": "{{ outcome.status == 'error' }}", "then": {"do": "continue", "set": {"seen": "{{ _task }}"}}},
        ]}}}},
        {"hop": {"kind": "noop", "result": "hop", "spec": {"policy": {"rules": [
            {"else": {"do": "jump", "to": "last"}},
        ]}}}},
        {"skipped": {"kind": "noop", "result": "never"}},
        {"last": {"kind": "noop", "result": "{{ ctx.seen }}", "spec": {"policy": {"rules": [
            {"else": {"do": "break"}}]}}}},
    ]}  # fmt: skip
    result = await TaskSequenceTool().run(config, ctx())
    assert result.ok, result.error
    assert result.data == {
        "tolerated": {"exit_code": 2, "stdout": "", "stderr": ""},
        "hop": "hop",
        "last": "tolerated",
        "_context_updates": {"seen": "tolerated"},
    }


async def test_fail_turns_a_success_into_a_failure(ctx: MakeContext) -> None:
    rules = [{"when": "{{ outcome.data.count == 0 }}", "then": {"do": "fail"}}]
    config = {"tasks": [{"empty": {"kind": "noop", "result": {"count": 0}, "spec": {"policy": {"rules": rules}}}}]}
    result = await TaskSequenceTool().run(config, ctx())
    assert result.status is ToolStatus.ERROR
    assert result.data["failed_label"] == "empty"


async def test_auth_aliases_resolve_per_task(
    ctx: MakeContext, control_plane: BoundControlPlane, standin_url: str, peer: str
) -> None:
    seed_credential(standin_url, "echo_token", "bearer", {"token": "per-task-token"})
    config = {"tasks": [{"call": {"kind": "http", "url": f"{peer}/echo", "auth": "echo_token"}}]}
    result = await TaskSequenceTool().run(config, ctx(control_plane=control_plane))
    assert result.ok, result.error
    assert result.data["call"]["body"]["headers"]["authorization"] == "Bearer per-task-token"


async def test_an_unhandled_tool_exception_stays_an_exception(ctx: MakeContext) -> None:
    config = {"tasks": [{"down": {"kind": "http", "url": "http://127.0.0.1:1/"}}]}
    with pytest.raises(ToolError, match=r"^HTTP error: "):
        await TaskSequenceTool().run(config, ctx())


async def test_jump_loops_are_bounded(ctx: MakeContext) -> None:
    config = {
        "tasks": [{"spin": {"kind": "noop", "spec": {"policy": {"rules": [{"else": {"do": "jump", "to": "spin"}}]}}}}]
    }
    result = await TaskSequenceTool().run(config, ctx())
    assert result.status is ToolStatus.ERROR
    assert "more than 1000 tasks" in (result.error or "")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: task_sequence.tasks: required: a list of tasks, got null"),
        ({"tasks": []}, "Configuration error: task_sequence.tasks: must not be empty"),
        ({"tasks": ["x"]}, "Configuration error: task_sequence.tasks[0]: expected an object, got a string"),
        ({"tasks": [{"a": {"url": "x"}}]}, "Configuration error: task_sequence.tasks[0].kind: required"),
        (
            {"tasks": [{"a": {"kind": "noop"}}, {"a": {"kind": "noop"}}]},
            "task_sequence.tasks: duplicate task labels: a",
        ),
        (
            {"tasks": [{"a": {"kind": "noop", "spec": {"policy": {"rules": [{"else": {"do": "explode"}}]}}}}]},
            "task_sequence.tasks[0].spec.policy.rules[0].else.do: unknown action 'explode'",
        ),
        (
            {"tasks": [{"a": {"kind": "noop", "spec": {"policy": {"rules": [{"else": {"do": "jump", "to": "z"}}]}}}}]},
            "jump target 'z' is not a task label",
        ),
        ({"tasks": [{"a": {"kind": "http"}}]}, "Configuration error: task_sequence.tasks[0] (a): http.url: required"),
    ],
)
async def test_malformed_configs_name_the_key(ctx: MakeContext, config: dict[str, object], message: str) -> None:
    with pytest.raises(ToolConfigError) as err:
        await TaskSequenceTool().run(config, ctx())
    assert message in str(err.value)


async def test_an_unknown_sub_kind_is_tool_not_found(ctx: MakeContext) -> None:
    with pytest.raises(ToolError, match=r"^Tool not found: teleport$"):
        await TaskSequenceTool().run({"tasks": [{"a": {"kind": "teleport"}}]}, ctx())


@pytest.mark.parametrize(
    ("condition", "matches"),
    [("[]", False), ("'False'", False), ("'none'", False), ("outcome.data.items", True), ("outcome.data.gone", False)],
)
async def test_conditions_follow_truthiness(ctx: MakeContext, condition: str, matches: bool) -> None:
    rules = [{"when": condition, "then": {"do": "fail"}}]
    config = {"tasks": [{"t": {"kind": "noop", "result": {"items": [1]}, "spec": {"policy": {"rules": rules}}}}]}
    result = await TaskSequenceTool().run(config, ctx())
    assert result.ok is not matches
