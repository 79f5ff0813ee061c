"""Property test: random token soup never escapes as anything but RhaiError, and never hangs."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from noetl_worker.rhai import RhaiError, RhaiLimits, run_script

pytestmark = pytest.mark.unit

TOKENS = [
    *list("+-*/%=<>!&|^()[]{},;:.?#`'\"@$\\_~"),
    "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "**", "<<", ">>", "..", "..=", "=>", "?.", "??", "::",
    "#{", "${", "|x|", "||", "let", "const", "if", "else", "switch", "while", "loop", "do", "until", "for", "in",
    "break", "continue", "return", "throw", "try", "catch", "fn", "true", "false", "this", "import", "x", "y",
    "f", "0", "1", "-1", "9223372036854775807", "2.5", "1e308", "\"s\"", "'c'", "`t ${x}`", "()", "[]", "#{}",
    "len", "push", "map", "filter", "reduce", "parse_json", "to_json", "print", "Fn", "call", "\n",
]  # fmt: skip

BOUNDED = RhaiLimits(max_operations=20_000, max_wall_time=1.0, max_string_size=100_000, max_array_size=10_000)


def _run(source: str) -> None:
    started = time.monotonic()
    try:
        run_script(source, {"x": 1, "y": [1, 2], "f": "s"}, BOUNDED)
    except RhaiError as exc:
        # An "internal interpreter error" is the safety net catching a defect: that is a failure too.
        if "internal interpreter error" in str(exc):
            pytest.fail(str(exc))
    assert time.monotonic() - started < 5


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup(tokens: list[str]) -> None:
    _run(" ".join(tokens))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_arbitrary_text(source: str) -> None:
    _run(source)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(["let a = [1];", "a.push(a);", "a = [a, a];", "loop {", "}", "fn g(n) { g(n) }", "g(1);"]),
        max_size=12,
    )
)
def test_statement_soup(statements: list[str]) -> None:
    _run("\n".join(statements))
