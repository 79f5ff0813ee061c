"""Safety limits: each breach is a clear, uncatchable RhaiLimitError; Python stays out of reach."""

from __future__ import annotations

import threading
import time

import pytest
from noetl_worker.rhai import DEFAULT_LIMITS, RhaiLimitError, RhaiLimits, RhaiRuntimeError, run_script

pytestmark = pytest.mark.unit

LIMIT_CASES: list[tuple[str, str, RhaiLimits, str]] = [
    ("operations", "loop {}", RhaiLimits(max_operations=10_000), "too many operations: the limit is 10000"),
    ("wall time", "loop {}", RhaiLimits(max_wall_time=0.2), "script exceeded the wall-clock limit of 0.2 s"),
    (
        "call depth",
        "fn f(n) { f(n + 1) } f(0)",
        RhaiLimits(max_call_depth=10),
        "function calls nested deeper than the limit of 10",
    ),
    (
        "default call depth",
        "fn f(n) { f(n + 1) } f(0)",
        DEFAULT_LIMITS,
        "function calls nested deeper than the limit of 48",
    ),
    (
        "closure recursion",
        "fn g(f) { f.call(f) } g(|f| g(f))",
        RhaiLimits(max_call_depth=20),
        "function calls nested deeper than the limit of 20",
    ),
    (
        "string size",
        'let s = "x"; loop { s += s; }',
        RhaiLimits(max_string_size=1000),
        "string length exceeds the limit of 1000",
    ),
    ("string pad", '"x".pad(100000, "y")', RhaiLimits(max_string_size=1000), "string length exceeds the limit of 1000"),
    (
        "array size",
        "let a = []; loop { a.push(1); }",
        RhaiLimits(max_array_size=100),
        "array length exceeds the limit of 100",
    ),
    (
        "array literal concat",
        "let a = [1]; loop { a += a; }",
        RhaiLimits(max_array_size=100),
        "array length exceeds the limit of 100",
    ),
    ("range step array", "range(0, 1000, 1)", RhaiLimits(max_array_size=100), "array length exceeds the limit of 100"),
    (
        "map size",
        "let m = #{}; let i = 0; loop { m[i.to_string()] = i; i += 1; }",
        RhaiLimits(max_map_size=50),
        "object map size exceeds the limit of 50",
    ),
    ("data nesting", "let a = []; loop { a = [a]; }", DEFAULT_LIMITS, "data nesting exceeds the limit of 128"),
    (
        "copy blow-up is charged",
        "let a = [1]; loop { a = [a, a]; }",
        RhaiLimits(max_operations=100_000),
        "too many operations",
    ),
    ("expression depth", "(" * 100 + "1" + ")" * 100, DEFAULT_LIMITS, "expression nesting exceeds the limit of 64"),
    ("block depth", "if true {" * 80 + "}" * 80, DEFAULT_LIMITS, "expression nesting exceeds the limit of 64"),
    (
        "sleep bounded by wall time",
        "sleep(5)",
        RhaiLimits(max_wall_time=0.3),
        "script exceeded the wall-clock limit of 0.3 s",
    ),
    ("limits are not catchable", "try { loop {} } catch { 1 }", RhaiLimits(max_operations=1000), "too many operations"),
    ("limit inside callback", "[1, 2].map(|x| { loop {} })", RhaiLimits(max_operations=1000), "too many operations"),
]


@pytest.mark.parametrize(("script", "limits", "message"), [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES])
def test_limit_breach(script: str, limits: RhaiLimits, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(RhaiLimitError) as info:
        run_script(script, limits=limits)
    assert message in str(info.value)
    assert time.monotonic() - started < 10


def test_source_size_limit() -> None:
    with pytest.raises(RhaiLimitError, match="script is 2001 characters; the limit is 2000"):
        run_script("1" + " " * 2000, limits=RhaiLimits(max_source_size=2000))


def test_long_flat_chains_do_not_recurse() -> None:
    # 5,000-term sums and 1,000-branch else-if chains are flat in the tree, so they evaluate fine.
    assert run_script("1" + " + 1" * 5000).value == 5001
    assert run_script("if false {1} " + "else if false {2} " * 1000 + "else {3}").value == 3


def test_log_lines_are_capped() -> None:
    outcome = run_script('for i in 0..25 { print(i); } "done"', limits=RhaiLimits(max_log_lines=10))
    assert outcome.value == "done"
    assert len(outcome.output) == 10
    assert outcome.dropped_lines == 15


def test_output_size_is_capped() -> None:
    script = 'let s = "x"; s.pad(1000, "x"); for i in 0..100 { print(s); } 1'
    outcome = run_script(script, limits=RhaiLimits(max_output_size=2500))
    assert [len(text) for _, text in outcome.output] == [1000, 1000, 500 + len(" [truncated]")]
    assert outcome.dropped_lines == 97


def test_cancel_event_stops_the_run() -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.1, cancel.set)
    timer.start()
    try:
        with pytest.raises(RhaiLimitError, match="script cancelled"):
            run_script("loop {}", cancel=cancel)
    finally:
        timer.cancel()


def test_tightened_only_lowers() -> None:
    limits = DEFAULT_LIMITS.tightened({"max_operations": 10, "max_wall_time": 999, "max_call_depth": 5.0})
    assert limits.max_operations == 10
    assert limits.max_wall_time == DEFAULT_LIMITS.max_wall_time
    assert limits.max_call_depth == 5
    with pytest.raises(ValueError, match="unknown limit 'max_nope'"):
        DEFAULT_LIMITS.tightened({"max_nope": 1})
    with pytest.raises(ValueError, match="must be a positive number"):
        DEFAULT_LIMITS.tightened({"max_operations": -1})
    with pytest.raises(ValueError, match="must be a positive number"):
        DEFAULT_LIMITS.tightened({"max_operations": True})


@pytest.mark.parametrize(
    "script",
    [
        '"".__class__',
        '"".__class__()',
        "[].__len__()",
        "type_of.__globals__",
        'Fn("print").__code__',
        'Fn("__import__").call("os")',
        'Fn("exec").call("1")',
        "__import__",
        'getattr("", "upper")',
        "open()",
    ],
)
def test_python_is_unreachable(script: str) -> None:
    with pytest.raises(RhaiRuntimeError):
        run_script(script)


def test_dunder_names_are_plain_map_keys() -> None:
    assert run_script("let x = #{}; [x.__dict__, x.__class__]").value == [None, None]


def test_scope_rejects_python_objects() -> None:
    with pytest.raises(RhaiRuntimeError, match="scope variable 'obj' cannot be passed to the script"):
        run_script("obj", {"obj": object()})
    with pytest.raises(RhaiRuntimeError, match="object keys must be strings"):
        run_script("m", {"m": {1: 2}})


def test_big_ints_from_json_become_floats() -> None:
    assert run_script("x", {"x": 2**70}).value == float(2**70)


@pytest.mark.parametrize(
    "script",
    [
        'let s = "x"; s.pad(1000000, "x"); let a = []; loop { a.push(s + "y"); }',
        'let s = "x"; s.pad(1000000, "x"); let m = #{}; let i = 0; loop { m[`${i}`] = s + i; i += 1; }',
        'let s = "x"; s.pad(1000000, "x"); range(0, 100000, 1).map(|i| s + i)',
        'let s = "x"; s.pad(1000000, "x"); let m = #{}; let i = 0; loop { m[s + i] = 1; i += 1; }',
    ],
    ids=["push", "map insert", "map callback", "map keys"],
)
def test_text_accumulated_in_containers_is_charged(script: str) -> None:
    # Each 1M-character string stored into a container costs 62,500 operations, so the default
    # budget stops these loops after ~80 strings instead of letting them exhaust memory.
    with pytest.raises(RhaiLimitError, match="too many operations"):
        run_script(script)
