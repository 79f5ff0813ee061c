"""The case evaluator: ``context.cases`` → the first case whose conditions all hold → its action.

A case is ``{"when": [Condition, ...], "then": Action}``; a condition is ``{"left", "op" = "eq", "right"}``.
``left`` resolves, in order: ``result`` / ``result.<path>`` (the tool's data), a variable of the render
context (a flat key such as ``workload.region``, or a dotted path into nested variables), a template
(``{{ … }}``), else the literal string. ``right`` is template-rendered. Twelve operators; actions ``exit``,
``set_var``, ``fail`` are applied by the worker, ``continue`` / ``goto`` / ``retry`` belong to the
orchestrator and are no-ops here (rust-worker-reference §6).

Unlike the seed, a malformed case is an error naming it (the seed silently dropped it), and an
evaluation error fails the command with ``call.error`` instead of stalling it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.templating import has_template, render_string, render_value

__all__ = ["OPERATORS", "Case", "CaseAction", "CaseError", "Condition", "evaluate_cases", "parse_cases"]

OPERATORS = ("eq", "ne", "gt", "lt", "gte", "lte", "contains", "matches", "truthy", "falsy", "in", "not_in")
ActionKind = Literal["continue", "exit", "set_var", "goto", "retry", "fail"]
_ACTIONS: tuple[ActionKind, ...] = ("continue", "exit", "set_var", "goto", "retry", "fail")


class CaseError(ValueError):
    """A case is malformed or cannot be evaluated; the message names the case and the problem."""


@dataclass(frozen=True, slots=True)
class Condition:
    left: str
    op: str = "eq"
    right: JSONValue = None


@dataclass(frozen=True, slots=True)
class CaseAction:
    kind: ActionKind
    args: JSONObject

    @property
    def status(self) -> str:
        return str(self.args.get("status") or "COMPLETED")

    @property
    def message(self) -> str:
        return str(self.args.get("message") or "case failed")


@dataclass(frozen=True, slots=True)
class Case:
    when: tuple[Condition, ...]
    then: CaseAction


def _parse_action(raw: JSONValue, where: str) -> CaseAction:
    if isinstance(raw, str) and raw in _ACTIONS:
        return CaseAction(raw, {})
    if isinstance(raw, dict) and len(raw) == 1:
        ((name, args),) = raw.items()
        for kind in _ACTIONS:
            if kind == name:
                if args is None:
                    args = {}
                if not isinstance(args, dict):
                    raise CaseError(f"{where}.then.{name} must be an object")
                if kind == "set_var" and not isinstance(args.get("name"), str):
                    raise CaseError(f"{where}.then.set_var.name must be a string")
                return CaseAction(kind, args)
    raise CaseError(f"{where}.then must be one of {', '.join(_ACTIONS)} (e.g. {{'exit': {{'status': 'COMPLETED'}}}})")


def parse_cases(raw: JSONValue) -> list[Case]:
    """Parse ``context.cases``; ``None`` means no cases. Raises :class:`CaseError` naming the bad element."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CaseError("cases must be a list")
    cases: list[Case] = []
    for index, item in enumerate(raw):
        where = f"cases[{index}]"
        if not isinstance(item, dict):
            raise CaseError(f"{where} must be an object with 'when' and 'then'")
        when_raw = item.get("when", [])
        if isinstance(when_raw, dict):
            when_raw = [when_raw]
        if not isinstance(when_raw, list):
            raise CaseError(f"{where}.when must be a list of conditions")
        conditions: list[Condition] = []
        for c_index, cond in enumerate(when_raw):
            c_where = f"{where}.when[{c_index}]"
            if not isinstance(cond, dict) or not isinstance(cond.get("left"), str):
                raise CaseError(f"{c_where} must be an object with a string 'left'")
            op = cond.get("op", "eq")
            if op not in OPERATORS:
                raise CaseError(f"{c_where}.op {op!r} is not one of {', '.join(OPERATORS)}")
            conditions.append(Condition(str(cond["left"]), str(op), cond.get("right")))
        if "then" not in item:
            raise CaseError(f"{where} has no 'then' action")
        cases.append(Case(tuple(conditions), _parse_action(item["then"], where)))
    return cases


_MISSING = object()


def _path(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _resolve_left(left: str, data: JSONValue, variables: Mapping[str, Any], names: Mapping[str, Any]) -> Any:
    if left == "result":
        return data
    if left.startswith("result."):
        found = _path(data, left[len("result.") :].split("."))
        return None if found is _MISSING else found
    if left in variables:
        return variables[left]
    if "." in left:
        found = _path(dict(variables), left.split("."))
        if found is not _MISSING:
            return found
    if has_template(left):
        return render_string(left, names, path="case.left")
    return left


def _number(value: Any, side: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise CaseError(f"{side} operand {value!r} is not numeric")


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", [], {}) if not isinstance(value, float) else value != 0.0


def _apply(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op in ("gt", "lt", "gte", "lte"):
        a, b = _number(left, "left"), _number(right, "right")
        return {"gt": a > b, "lt": a < b, "gte": a >= b, "lte": a <= b}[op]
    if op == "contains":
        return (right if isinstance(right, str) else "") in (left if isinstance(left, str) else "")
    if op == "matches":
        return (
            isinstance(left, str) and _compile_regex(right if isinstance(right, str) else "").search(left) is not None
        )
    if op == "truthy":
        return _truthy(left)
    if op == "falsy":
        return not _truthy(left)
    if op == "in":
        return isinstance(right, list) and left in right
    # not_in: a non-array right side contains nothing.
    return not (isinstance(right, list) and left in right)


@functools.lru_cache(maxsize=256)
def _compile_regex(pattern: str) -> Any:
    """Compile with RE2: matching is linear in the input, so a playbook's pattern over a tool's (externally
    controlled) output can never backtrack for minutes on the event loop. It is also the dialect of the
    seed's Rust ``regex`` crate (no backreferences or look-around), so patterns mean the same on both."""
    import re2  # noqa: PLC0415 - loaded only by playbooks that use `matches`

    options = re2.Options()
    options.log_errors = False  # errors become a CaseError below, not lines on stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise CaseError(f"invalid regex {pattern!r}: {detail}") from None


def evaluate_cases(
    cases: list[Case], data: JSONValue, variables: Mapping[str, Any], identity: Mapping[str, Any]
) -> CaseAction | None:
    """The action of the first case whose conditions all hold (an empty ``when`` always holds), or None."""
    result_for_templates: Any = data
    names = {**variables, **identity, "result": result_for_templates}
    for index, case in enumerate(cases):
        try:
            matched = all(
                _apply(
                    cond.op,
                    _resolve_left(cond.left, data, variables, names),
                    render_value(cond.right, names, path="case.right"),
                )
                for cond in case.when
            )
        except CaseError as exc:
            raise CaseError(f"cases[{index}]: {exc}") from None
        except Exception as exc:
            raise CaseError(f"cases[{index}]: {exc}") from None
        if matched:
            return case.then
    return None
