"""The case evaluator: resolution order, all twelve operators, first match wins, every action."""

from __future__ import annotations

from typing import Any

import pytest
from noetl_worker.executor.cases import OPERATORS, CaseError, evaluate_cases, parse_cases
from noetl_worker.jsontypes import JSONValue

pytestmark = pytest.mark.unit

IDENTITY = {"execution_id": 1, "step": "s", "server_url": "http://x", "worker_id": "w", "command_id": 2}


def decide(cases: JSONValue, data: JSONValue, variables: dict[str, Any] | None = None) -> Any:
    action = evaluate_cases(parse_cases(cases), data, variables or {}, IDENTITY)
    return None if action is None else (action.kind, action.args)


def when(left: str, op: str, right: JSONValue = None) -> list[JSONValue]:
    return [{"when": [{"left": left, "op": op, "right": right}], "then": {"exit": {"status": "HIT"}}}]


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("eq", 5, 5, True), ("eq", 5, "5", False), ("ne", 5, 6, True),
        ("gt", 5, 4, True), ("gt", "10", 9, True), ("lt", 1, 2, True), ("gte", 2, 2, True), ("lte", 3, 2, False),
        ("gt", True, 0, True), ("lt", None, 1, True),
        ("contains", "hello world", "world", True), ("contains", 12, "1", False),
        ("matches", "abc-123", r"\d+$", True), ("matches", 5, ".*", False),
        ("truthy", "x", None, True), ("truthy", [], None, False), ("falsy", 0, None, True), ("falsy", {}, None, True),
        ("in", "b", ["a", "b"], True), ("in", "b", "abc", False),
        ("not_in", "c", ["a", "b"], True), ("not_in", "a", "not-a-list", True),
    ],
)  # fmt: skip
def test_operators(op: str, left: JSONValue, right: JSONValue, expected: bool) -> None:
    hit = decide(when("result.v", op, right), {"v": left})
    assert (hit is not None) is expected


def test_all_twelve_operators_are_known() -> None:
    assert len(OPERATORS) == 12


def test_left_resolution_order() -> None:
    data = {"rows": [{"id": 7}], "status": "ok"}
    assert decide(when("result.rows.0.id", "eq", 7), data)
    assert decide(when("result.status", "eq", "ok"), data)  # result.* reads the tool's data, not the envelope
    assert decide(when("result", "eq", data), data)
    assert decide(when("result.missing", "eq", None), data)
    assert decide(when("workload.region", "eq", "eu"), data, {"workload.region": "eu"})  # a flat key
    assert decide(when("workload.region", "eq", "us"), data, {"workload": {"region": "us"}})  # a nested path
    assert decide(when("{{ workload.n * 2 }}", "eq", 8), data, {"workload": {"n": 4}})
    assert decide(when("{{ step }}", "eq", "s"), data)
    assert decide(when("just text", "eq", "just text"), data)


def test_right_side_is_rendered() -> None:
    assert decide(when("result.v", "eq", "{{ vars.limit }}"), {"v": 3}, {"vars": {"limit": 3}})


def test_first_matching_case_wins_and_conditions_are_anded() -> None:
    cases = [
        {"when": [{"left": "result.a", "op": "eq", "right": 1}, {"left": "result.b", "op": "eq", "right": 9}],
         "then": {"exit": {"status": "FIRST"}}},
        {"when": [{"left": "result.a", "op": "eq", "right": 1}], "then": {"set_var": {"name": "x", "value": 1}}},
        {"when": [], "then": {"fail": {"message": "never reached"}}},
    ]  # fmt: skip
    assert decide(cases, {"a": 1, "b": 2}) == ("set_var", {"name": "x", "value": 1})
    assert decide(cases, {"a": 1, "b": 9}) == ("exit", {"status": "FIRST"})
    assert decide(cases, {"a": 0}) == ("fail", {"message": "never reached"})


def test_no_match_and_no_cases_mean_no_action() -> None:
    assert decide(when("result.v", "eq", 1), {"v": 2}) is None
    assert decide(None, {"v": 2}) is None


@pytest.mark.parametrize("action", ["continue", {"goto": {"step": "next"}}, {"retry": {"delay_ms": 5}}])
def test_orchestrator_actions_parse(action: JSONValue) -> None:
    kind = decide([{"when": [], "then": action}], None)[0]
    assert kind in {"continue", "goto", "retry"}


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ("nope", "cases must be a list"),
        (
            [{"then": "continue", "when": [{"op": "eq"}]}],
            r"cases\[0\]\.when\[0\] must be an object with a string 'left'",
        ),
        ([{"when": [{"left": "a", "op": "approx"}], "then": "continue"}], r"op 'approx' is not one of"),
        ([{"when": []}], r"cases\[0\] has no 'then'"),
        ([{"when": [], "then": {"explode": {}}}], r"cases\[0\]\.then must be one of"),
        ([{"when": [], "then": {"set_var": {"value": 1}}}], r"set_var\.name must be a string"),
    ],
)
def test_malformed_cases_are_errors_naming_the_case(cases: JSONValue, message: str) -> None:
    with pytest.raises(CaseError, match=message):
        parse_cases(cases)


def test_evaluation_errors_name_the_case() -> None:
    with pytest.raises(CaseError, match=r"cases\[0\]: left operand 'abc' is not numeric"):
        decide(when("result.v", "gt", 1), {"v": "abc"})
    with pytest.raises(CaseError, match=r"cases\[0\]: invalid regex"):
        decide(when("result.v", "matches", "("), {"v": "abc"})
