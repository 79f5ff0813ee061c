"""Templating of tool configs: the reference dialect (tools.md §2) on Jinja2's sandbox."""

from __future__ import annotations

import pytest
from noetl_worker.templating import render_string, render_value
from noetl_worker.tools.base import ToolConfigError

pytestmark = pytest.mark.unit


def test_strings_without_template_syntax_are_left_alone() -> None:
    assert render_value({"a": "plain {text}", "b": 3, "c": None}, {}) == {"a": "plain {text}", "b": 3, "c": None}


def test_a_rendered_json_text_becomes_the_typed_value() -> None:
    ctx = {"n": "42", "flag": "true", "items": "[1, 2]"}
    assert render_string("{{ n }}", ctx) == 42
    assert render_string("{{ flag }}", ctx) == True  # noqa: E712 - the JSON boolean, not a truthy string
    assert render_string("{{ items }}", ctx) == [1, 2]
    assert render_string("{{ 10 * 100 }}", ctx) == 1000
    assert render_string("id-{{ n }}", ctx) == "id-42"


def test_a_whole_expression_passes_objects_through_natively() -> None:
    ctx = {"start": {"value": 14, "tags": ["a"]}}
    assert render_string("{{ start }}", ctx) == {"value": 14, "tags": ["a"]}
    assert render_string("{{ start.tags }}", ctx) == ["a"]


def test_objects_and_booleans_print_as_json_inside_text() -> None:
    assert render_string("x={{ o }}", {"o": {"a": True}}) == 'x={"a": true}'
    assert render_string("{{ b }}!", {"b": False}) == "false!"


def test_non_json_text_stays_text_and_nan_is_not_a_number() -> None:
    assert render_string("{{ s }}", {"s": "hello"}) == "hello"
    assert render_string("{{ s }}", {"s": "NaN"}) == "NaN"


def test_result_and_data_alias_the_object_itself_unless_the_key_exists() -> None:
    ctx = {"start": {"value": 14}, "other": {"result": {"v": 1}}}
    assert render_string("{{ start.result.value }}", ctx) == 14
    assert render_string("{{ start.result.result.value }}", ctx) == 14
    assert render_string("{{ start.data.value }}", ctx) == 14
    assert render_string("{{ other.result.v }}", ctx) == 1


def test_undefined_names_render_empty_but_attribute_access_on_them_fails() -> None:
    assert render_string("[{{ missing }}]", {}) == []  # "[]" is JSON
    assert render_string("{{ missing }}", {}) == ""
    with pytest.raises(ToolConfigError, match=r"^Configuration error: http\.url: template error: .*missing"):
        render_value({"url": "{{ missing.attr }}"}, {}, path="http")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ '12' | int }}", 12),
        ("{{ '12.9' | int }}", 12),
        ("{{ 'x' | int }}", 0),
        ("{{ '2.5' | float }}", 2.5),
        ("{{ 'x' | float }}", 0.0),
        ("{{ none_value | default('d') }}", "d"),
        ("{{ missing | d('d') }}", "d"),
        ("{{ {'a': 1} | tojson }}", {"a": 1}),
        ("{{ '<&>' | tojson }}", "<&>"),
        ("{{ ('{' ~ '\"a\": 2}') | fromjson }}", {"a": 2}),
        ("{{ 'not json' | fromjson }}", None),
        ("{{ 'é' | length }}", 2),
        ("{{ [1, 2, 3] | len }}", 3),
        ("{{ 'Ab' | upper }}{{ 'Ab' | lower }}", "ABab"),
        ("{{ '  x ' | trim }}", "x"),
        ("{{ 'a-b' | replace('-', '+') }}", "a+b"),
        ("{{ 'a,b' | split(',') }}", ["a", "b"]),
        ("{{ ['a', 'b'] | join('-') }}", "a-b"),
        ("{{ [4, 5] | first }}{{ [4, 5] | last }}", 45),
        ("{{ 'hi' | b64encode }}", "aGk="),
        ("{{ 'aGk=' | b64decode }}", "hi"),
        ('{{ "it\'s; rm -rf /" | shell_quote }}', "'it'\"'\"'s; rm -rf /'"),
    ],
)
def test_filters_follow_the_reference(template: str, expected: object) -> None:
    assert render_string(template, {"none_value": None}) == expected


def test_b64decode_of_garbage_is_a_named_error() -> None:
    with pytest.raises(ToolConfigError, match=r"shell\.env\.X: template error: .*b64decode"):
        render_value({"env": {"X": "{{ '!!!' | b64decode }}"}}, {}, path="shell")


def test_syntax_errors_name_the_key_path() -> None:
    with pytest.raises(ToolConfigError, match=r"^Configuration error: postgres\.params\[1\]: template error"):
        render_value({"params": [1, "{{ oops( }}"]}, {}, path="postgres")


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(ToolConfigError, match="template error"):
        render_string("{{ ''.__class__.__mro__[1].__subclasses__() }}", {}, path="http.url")


def test_skipped_keys_are_not_rendered() -> None:
    assert render_value({"code": "x = '{{ a }}'", "v": "{{ a }}"}, {"a": 1}, skip=frozenset({"code"})) == {
        "code": "x = '{{ a }}'",
        "v": 1,
    }


def test_keys_are_never_rendered() -> None:
    assert render_value({"{{ a }}": "{{ a }}"}, {"a": 5}) == {"{{ a }}": 5}


def test_whitespace_control_markers_are_not_part_of_the_expression() -> None:
    assert render_string("{{- start.value -}}", {"start": {"value": 14}}) == 14
    assert render_string("{{ -n }}", {"n": 3}) == -3


@pytest.mark.parametrize(
    "template",
    ["{{ 'x' * 10**9 }}", "{{ [0] * 10000000 }}", "{{ 10 ** 100000 }}", "{{ (2 ** 10000) ** 10001 }}"],
)
def test_templates_cannot_make_the_worker_allocate_without_bound(template: str) -> None:
    with pytest.raises(ToolConfigError, match=r"template error: SecurityError"):
        render_string(template, {}, path="shell.command")


def test_runaway_recursion_is_a_config_error_not_a_crash() -> None:
    template = "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"
    with pytest.raises(ToolConfigError, match="template error: RecursionError"):
        render_string(template, {}, path="http.url")


def test_non_finite_numbers_become_text_not_null() -> None:
    assert render_string("{{ x }}", {"x": float("inf")}) == "inf"


def test_nested_loops_are_bounded_by_a_range_budget() -> None:
    bomb = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(ToolConfigError, match=r"range\(\) produced more than 1000000 items"):
        render_string(bomb, {})
    assert render_string("{% for i in range(3) %}{{ i }},{% endfor %}", {}) == "0,1,2,"


def test_rendered_text_is_bounded() -> None:
    bomb = "{% for i in range(100) %}{{ 'x' * 1000000 }}{% endfor %}"
    with pytest.raises(ToolConfigError, match="rendered text would be longer"):
        render_string(bomb, {})


def test_urlquote_keeps_a_templated_value_one_url_segment() -> None:
    assert render_string("/items/{{ v | urlquote }}", {"v": "../admin?x=1#y"}) == "/items/..%2Fadmin%3Fx%3D1%23y"
