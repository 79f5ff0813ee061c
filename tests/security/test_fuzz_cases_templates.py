"""Property tests: no case list and no template crashes or hangs the worker's evaluators.

Cases and tool-config templates come from playbooks; the data they look at comes from tool results,
which an outside system controls. The contract: ``parse_cases``/``evaluate_cases`` raise only
``CaseError`` and the renderer raises only ``ToolConfigError`` (both become ``call.error`` naming the
problem), the sandbox never hands out Python internals, and nothing runs for long. Both evaluators run on
the worker's event loop, so a long evaluation would stall every slot, the heartbeats and the drain of
the whole process — the hang checks run in a child process that can be killed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from noetl_worker.executor.cases import OPERATORS, CaseAction, CaseError, evaluate_cases, parse_cases
from noetl_worker.templating import render_value
from noetl_worker.tools.base import ToolConfigError

from tests.security.fuzzing import FUZZ, json_values

pytestmark = pytest.mark.unit

MAX_SECONDS = 1.0

TEMPLATE_TOKENS = [
    "{{", "}}", "{%", "%}", "{#", "#}", " ", "x", "y", "result", "result.a", "keychain", "keychain.k", "workload",
    "|", "tojson", "fromjson", "default", "int", "float", "length", "b64decode", "b64encode", "shell_quote",
    "split", "join", "first", "last", "upper", "replace", "(", ")", "[", "]", ".", ",", ":", "'", '"', "0", "1",
    "-1", "2.5", "1e308", "*", "**", "/", "//", "%", "+", "~", "==", "and", "or", "not", "if", "else", "endif",
    "for", "in", "endfor", "set", "=", "range(", "range(3)", "__class__", "__mro__", "__globals__", "__init__",
    "mro()", "__subclasses__()", "lipsum", "cycler", "joiner", "namespace", "self", "loop", "caller", "macro",
    "endmacro", "call", "import", "include", "extends", "block", "raw", "endraw", "none", "true", "false",
]  # fmt: skip

templates = st.lists(st.sampled_from(TEMPLATE_TOKENS), max_size=25).map("".join)
render_names = st.fixed_dictionaries(
    {"x": json_values(), "y": json_values(), "result": json_values(), "keychain": st.just({"k": "s3cr3t"})}
)


def render_or_explain(value: Any, names: dict[str, Any]) -> Any:
    started = time.monotonic()
    rendered: Any = None
    error: ToolConfigError | None = None
    try:
        rendered = render_value(value, names, path="cfg")
    except ToolConfigError as exc:
        error = exc
    assert time.monotonic() - started < MAX_SECONDS
    if error is not None:
        assert "cfg" in str(error), error
    return rendered


def no_python_objects(value: Any) -> None:
    """A rendered config is JSON: nothing of the interpreter leaks out of the sandbox."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            no_python_objects(item)
    elif isinstance(value, list):
        for item in value:
            no_python_objects(item)
    else:
        assert value is None or isinstance(value, bool | int | float | str), type(value)
        if isinstance(value, str):
            assert "<class '" not in value
            assert "<built-in" not in value
            assert "<function" not in value


@FUZZ
@given(templates, render_names)
@example("{{ ''.__class__.__mro__[1].__subclasses__() }}", {"x": 1, "y": 1, "result": 1, "keychain": {"k": "s"}})
@example("{{ x.__init__.__globals__ }}", {"x": {}, "y": 1, "result": 1, "keychain": {"k": "s"}})
@example("{{ lipsum.__globals__['os'] }}", {"x": {}, "y": 1, "result": 1, "keychain": {"k": "s"}})
@example("{{ cycler.__init__.__globals__.os.popen('id').read() }}", {"x": 1, "y": 1, "result": 1, "keychain": {}})
def test_any_template_renders_to_json_or_raises_a_config_error(template: str, names: dict[str, Any]) -> None:
    no_python_objects(render_or_explain(template, names))


@FUZZ
@given(json_values(), render_names)
def test_any_config_document_renders_to_json_or_raises_a_config_error(document: Any, names: dict[str, Any]) -> None:
    no_python_objects(render_or_explain(document, names))


# --------------------------------------------------------------------------- cases

conditions = st.fixed_dictionaries(
    {"left": st.one_of(st.sampled_from(["result", "result.a", "result.a.0", "x", "x.y", "{{ result }}"]), st.text())},
    optional={"op": st.one_of(st.sampled_from(OPERATORS), json_values()), "right": st.one_of(json_values(), templates)},
)
actions = st.one_of(
    json_values(),
    st.sampled_from(["continue", "exit", "fail", "goto", "retry", "set_var"]),
    st.fixed_dictionaries(
        {}, optional={key: json_values() for key in ("exit", "fail", "set_var", "goto", "status", "message")}
    ),
)
case_lists = st.one_of(
    json_values(),
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={"when": st.one_of(st.lists(conditions, max_size=3), conditions, json_values()), "then": actions},
        ),
        max_size=4,
    ),
)


@FUZZ
@given(case_lists, json_values(), st.dictionaries(st.sampled_from(["x", "x.y", "workload"]), json_values()))
def test_any_case_list_evaluates_or_raises_a_case_error(raw: Any, data: Any, variables: dict[str, Any]) -> None:
    started = time.monotonic()
    action: CaseAction | None = None
    error: CaseError | None = None
    try:
        action = evaluate_cases(parse_cases(raw), data, variables, {"execution_id": 1, "step": "s"})
    except CaseError as exc:
        error = exc
    assert time.monotonic() - started < MAX_SECONDS
    if error is not None:
        assert str(error).startswith("cases"), error
    assert action is None or action.kind in ("continue", "exit", "set_var", "goto", "retry", "fail")


# --------------------------------------------------------------------------- hangs

HANG_BOUND_SECONDS = 5.0


def finishes_within_bound(code: str) -> tuple[bool, str]:
    """Run ``code`` in a child interpreter; True if it ended (either way) within the bound."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            check=False,
            capture_output=True,
            text=True,
            timeout=HANG_BOUND_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return False, f"still running after {HANG_BOUND_SECONDS:g}s"
    return done.returncode == 0, done.stdout + done.stderr


def test_a_template_that_loops_for_ever_is_stopped_with_a_config_error() -> None:
    ended, output = finishes_within_bound(
        """
        from noetl_worker.templating import render_string
        from noetl_worker.tools.base import ToolConfigError
        try:
            render_string("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", {})
        except ToolConfigError as exc:
            print(exc)
        else:
            raise SystemExit("rendered without an error")
        """
    )
    assert ended, output
    assert "range() produced more than" in output


def test_a_catastrophic_regex_over_tool_output_is_bounded() -> None:
    ended, output = finishes_within_bound(
        """
        from noetl_worker.executor.cases import CaseError, evaluate_cases, parse_cases
        cases = parse_cases([{"when": [{"left": "result.s", "op": "matches", "right": "^(a+)+$"}], "then": "exit"}])
        try:
            evaluate_cases(cases, {"s": "a" * 40 + "b"}, {}, {})
        except CaseError as exc:
            print(exc)
        """
    )
    assert ended, output
