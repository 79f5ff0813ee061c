"""``task_sequence``: a pipeline of tools run in order within one command, with per-task policy rules.

Config shapes: ``{"tasks": [...]}``, ``{"tool_config": [...]}`` (a bare list, as the executor wraps it) or a
list. A task is ``{<label>: {kind, ...}}`` (the reference's single-key form) or ``{kind, name|label, ...}``.
Each task's own ``spec.policy.rules`` (or ``policy.rules``) decide what happens after it ran.

Each task runs through ``context.registry``; its config is rendered by the sub-tool itself against the
command's render context plus ``_prev`` (the previous task's data), ``_results`` (``{label: data}`` so far),
``_task`` (label), ``_attempt`` (1-based) and ``ctx`` (with the updates made by ``set``). A string
``auth``/``credential`` alias is resolved per task (:func:`~noetl_worker.tools.auth.resolve_auth`).

Policy rules (control-plane-api.md §5): ``[{when: "<jinja>", then: {do, attempts, backoff, delay, to,
set}}, {else: {...}}]``, evaluated after every attempt with ``outcome`` = ``{status: ok|error, data, error:
{message, kind}, meta: {attempt, duration_ms}}``. ``do``: ``continue`` (next task), ``retry`` (again, up to
``attempts`` in all, default 3, waiting ``delay`` seconds (default 1) times 1 / attempt / 2^(attempt-1) for
``backoff`` none / linear / exponential), ``break`` (stop, success), ``jump`` (to the task labelled ``to``),
``fail`` (stop, error). ``set`` renders values into ``ctx``. Without a matching rule: success → continue,
error → fail.

Result: success → ``data = {label: data, ...}`` (plus ``_context_updates`` when ``set`` was used), with
``stdout``/``stderr``/``exit_code`` of the last task; failure → status error, ``data = {labeled_results,
failed_task, failed_label}`` and the failed task's error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.templating import render_string, render_value, tool_template_context
from noetl_worker.tools._config import describe
from noetl_worker.tools.auth import resolve_auth
from noetl_worker.tools.base import ToolConfigError, ToolContext, ToolError, ToolRegistry, ToolResult, ToolStatus

__all__ = ["Rule", "Task", "TaskSequenceTool", "parse_tasks"]

ACTIONS = frozenset({"continue", "retry", "break", "jump", "fail"})
BACKOFFS = frozenset({"none", "linear", "exponential"})
DEFAULT_ATTEMPTS = 3
DEFAULT_DELAY_SECONDS = 1.0
MAX_STEPS = 1000  # jumps can loop: bound the total number of task runs per command


@dataclass(frozen=True, slots=True)
class Rule:
    when: str | None  # None: the `else` rule
    do: str
    attempts: int
    backoff: str
    delay: float
    to: str | None
    set: JSONObject


@dataclass(frozen=True, slots=True)
class Task:
    label: str
    kind: str
    config: JSONObject
    rules: tuple[Rule, ...]


def _error(path: str, message: str) -> ToolConfigError:
    return ToolConfigError(f"task_sequence.{path}: {message}")


def _parse_rule(path: str, raw: JSONValue) -> Rule:
    if not isinstance(raw, dict):
        raise _error(path, f"expected an object, got {describe(raw)}")
    if "else" in raw:
        when, then = None, raw["else"]
        then_path = f"{path}.else"
    else:
        condition = raw.get("when")
        if not isinstance(condition, str | bool) or condition == "":
            raise _error(f"{path}.when", "required (a Jinja condition) unless the rule is `else`")
        when, then = str(condition).lower() if isinstance(condition, bool) else condition, raw.get("then")
        then_path = f"{path}.then"
    if not isinstance(then, dict):
        raise _error(then_path, f"expected an object, got {describe(then)}")
    do = str(then.get("do", "continue")).lower()
    if do not in ACTIONS:
        raise _error(f"{then_path}.do", f"unknown action {do!r}; expected one of {', '.join(sorted(ACTIONS))}")
    backoff = str(then.get("backoff", "none")).lower()
    if backoff not in BACKOFFS:
        raise _error(f"{then_path}.backoff", "expected none, linear or exponential")
    attempts, delay = then.get("attempts", DEFAULT_ATTEMPTS), then.get("delay", DEFAULT_DELAY_SECONDS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise _error(f"{then_path}.attempts", "expected an integer >= 1")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise _error(f"{then_path}.delay", "expected a number of seconds >= 0")
    target = then.get("to")
    if do == "jump" and not isinstance(target, str):
        raise _error(f"{then_path}.to", "required for jump (a task label)")
    updates = then.get("set", {})
    if not isinstance(updates, dict):
        raise _error(f"{then_path}.set", f"expected an object, got {describe(updates)}")
    return Rule(when, do, attempts, backoff, float(delay), target if isinstance(target, str) else None, updates)


def _parse_task(index: int, raw: JSONValue) -> Task:
    path = f"tasks[{index}]"
    if not isinstance(raw, dict):
        raise _error(path, f"expected an object, got {describe(raw)}")
    if "kind" in raw:
        label_value = raw.get("name", raw.get("label", f"task_{index}"))
        label, spec = str(label_value), {k: v for k, v in raw.items() if k not in ("name", "label")}
    elif len(raw) == 1:
        label, body = next(iter(raw.items()))
        if not isinstance(body, dict):
            raise _error(f"{path}.{label}", f"expected a tool object with `kind`, got {describe(body)}")
        spec = dict(body)
    else:
        raise _error(path, "expected {<label>: {kind: ...}} or an object with `kind`")
    kind = spec.pop("kind", None)
    if not isinstance(kind, str) or not kind:
        raise _error(f"{path}.kind", "required")
    policy: JSONValue = None
    inner_spec = spec.get("spec")
    if isinstance(inner_spec, dict) and "policy" in inner_spec:
        policy = inner_spec["policy"]
        rest = {k: v for k, v in inner_spec.items() if k != "policy"}
        if rest:
            spec["spec"] = rest
        else:
            spec.pop("spec")
    elif "policy" in spec:
        policy = spec.pop("policy")
    rules: list[Rule] = []
    if policy is not None:
        raw_rules = policy.get("rules") if isinstance(policy, dict) else None
        if not isinstance(raw_rules, list):
            raise _error(f"{path}.spec.policy.rules", "expected a list of rules")
        rules = [_parse_rule(f"{path}.spec.policy.rules[{i}]", rule) for i, rule in enumerate(raw_rules)]
    return Task(label, kind, spec, tuple(rules))


def parse_tasks(config: Mapping[str, JSONValue]) -> list[Task]:
    """The tasks of a task_sequence config, validated; errors name ``task_sequence.tasks[i]...``."""
    raw = config.get("tool_config", config.get("tasks"))
    if not isinstance(raw, list):
        raise _error("tasks", f"required: a list of tasks, got {describe(raw)}")
    if not raw:
        raise _error("tasks", "must not be empty")
    tasks = [_parse_task(index, item) for index, item in enumerate(raw)]
    labels = [task.label for task in tasks]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise _error("tasks", f"duplicate task labels: {', '.join(duplicates)}")
    for index, task in enumerate(tasks):
        for rule in task.rules:
            if rule.do == "jump" and rule.to not in labels:
                raise _error(f"tasks[{index}].spec.policy.rules", f"jump target {rule.to!r} is not a task label")
    return tasks


def _delay(rule: Rule, attempt: int) -> float:
    if rule.backoff == "linear":
        return rule.delay * attempt
    if rule.backoff == "exponential":
        return float(rule.delay * 2 ** (attempt - 1))
    return rule.delay


class TaskSequenceTool:
    kind: ClassVar[str] = "task_sequence"

    def __init__(self) -> None:
        self._fallback_registry: ToolRegistry | None = None

    def _registry(self, context: ToolContext) -> ToolRegistry:
        if context.registry is not None:
            return context.registry
        if self._fallback_registry is None:
            from noetl_worker.tools.registry import default_registry  # noqa: PLC0415 - registry imports us

            self._fallback_registry = default_registry()
        return self._fallback_registry

    async def aclose(self) -> None:
        if self._fallback_registry is not None:
            await self._fallback_registry.aclose()

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        tasks = parse_tasks(config)
        index_of = {task.label: index for index, task in enumerate(tasks)}
        registry = self._registry(context)
        results: JSONObject = {}
        updates: JSONObject = {}
        base_ctx = context.variables.get("ctx")
        ctx_view: JSONObject = dict(base_ctx) if isinstance(base_ctx, dict) else {}
        prev: JSONValue = None
        last: ToolResult | None = None
        index, attempt, steps = 0, 1, 0

        while index < len(tasks):
            steps += 1
            if steps > MAX_STEPS:
                return _failed(
                    f"task_sequence ran more than {MAX_STEPS} tasks (a jump loop?)",
                    results,
                    index,
                    tasks,
                    started=started,
                )
            task = tasks[index]
            local: dict[str, JSONValue] = {"_prev": prev, "_results": dict(results), "_task": task.label,
                                           "_attempt": attempt, "ctx": dict(ctx_view)}  # fmt: skip
            sub_context = dataclasses.replace(context, variables={**context.variables, **local})
            task_started = time.monotonic()
            outcome_error: Exception | None = None
            try:
                resolution = await resolve_auth(
                    task.config, control_plane=context.control_plane, execution_id=context.execution_id
                )
                if resolution.secrets:
                    context.add_secrets(resolution.secrets.values())
                    sub_context = dataclasses.replace(sub_context, secrets={**context.secrets, **resolution.secrets})
                result = await registry.get(task.kind).run(resolution.config, sub_context)
            except ToolConfigError as exc:
                detail = str(exc).removeprefix("Configuration error: ")
                raise ToolConfigError(f"task_sequence.tasks[{index}] ({task.label}): {detail}") from None
            except ToolError as exc:
                outcome_error = exc
                result = ToolResult.failure(str(exc))
            last = result
            outcome: JSONObject = {
                "status": "ok" if result.ok else "error",
                "data": result.data,
                "result": result.data,
                "error": None if result.ok else {"message": result.error, "kind": result.status.value},
                "meta": {"attempt": attempt, "duration_ms": int((time.monotonic() - task_started) * 1000)},
            }
            rule = self._match(task, outcome, sub_context, local)
            if rule is not None and rule.set:
                values = render_value(rule.set, self._names(sub_context, local, outcome), path="task_sequence.set")
                assert isinstance(values, dict)
                updates.update(values)
                ctx_view.update(values)
            action = rule.do if rule is not None else ("continue" if result.ok else "fail")

            if action == "retry":
                assert rule is not None
                if attempt < rule.attempts:
                    wait = min(_delay(rule, attempt), context.remaining())
                    await asyncio.sleep(wait)
                    attempt += 1
                    continue
                action = "continue" if result.ok else "fail"
            if action == "fail":
                if outcome_error is not None and rule is None:
                    raise outcome_error  # an exception nobody handled stays an exception (call.error)
                return _failed(
                    result.error or f"task {task.label!r} failed", results, index, tasks, started=started, result=result
                )
            results[task.label] = result.data
            prev = result.data
            attempt = 1
            if action == "break":
                break
            if action == "jump":
                assert rule is not None
                assert rule.to is not None
                index = index_of[rule.to]
                continue
            index += 1

        data: JSONObject = dict(results)
        if updates:
            data["_context_updates"] = updates
        return ToolResult(
            ToolStatus.SUCCESS,
            data=data,
            stdout=last.stdout if last else None,
            stderr=last.stderr if last else None,
            exit_code=last.exit_code if last else None,
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    @staticmethod
    def _names(context: ToolContext, local: Mapping[str, JSONValue], outcome: JSONObject) -> dict[str, Any]:
        return tool_template_context(context, **local, outcome=outcome)

    def _match(
        self, task: Task, outcome: JSONObject, context: ToolContext, local: Mapping[str, JSONValue]
    ) -> Rule | None:
        names = self._names(context, local, outcome)
        for index, rule in enumerate(task.rules):
            if rule.when is None:
                return rule
            path = f"task_sequence.{task.label}.policy.rules[{index}].when"
            value = render_string(rule.when, names, path=path) if "{" in rule.when else _bare(rule.when, names, path)
            if _truthy(value):
                return rule
        return None


def _truthy(value: JSONValue) -> bool:
    # A rendered condition is typed by the JSON rule; text such as "False" or "none" still means no.
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "none", "null", "0", "no")
    return bool(value)


def _bare(condition: str, names: Mapping[str, Any], path: str) -> JSONValue:
    """A `when` written without braces (``outcome.status == 'error'``) is an expression too."""
    return render_string("{{ " + condition + " }}", names, path=path)


def _failed(
    message: str,
    results: JSONObject,
    index: int,
    tasks: list[Task],
    *,
    started: float,
    result: ToolResult | None = None,
) -> ToolResult:
    return ToolResult(
        ToolStatus.ERROR,
        data={"labeled_results": dict(results), "failed_task": index, "failed_label": tasks[index].label},
        error=message,
        stdout=result.stdout if result else None,
        stderr=result.stderr if result else None,
        exit_code=result.exit_code if result else None,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
