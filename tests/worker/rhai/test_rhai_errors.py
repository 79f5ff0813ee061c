"""Error reporting: syntax errors, unsupported syntax, runtime errors — each with line and column."""

from __future__ import annotations

import pytest
from noetl_worker.rhai import RhaiError, RhaiRuntimeError, RhaiSyntaxError, run_script

pytestmark = pytest.mark.unit

# (id, script, error class, exact message)
ERRORS: list[tuple[str, str, type[RhaiError], str]] = [
    (
        "unexpected closing brace",
        "fn f() {\n  let a = 1;\n}}",
        RhaiSyntaxError,
        "line 3, column 2: unexpected token '}'",
    ),
    ("missing expression", "let x = ;", RhaiSyntaxError, "line 1, column 9: unexpected token ';'"),
    (
        "missing semicolon",
        "let x = 1\nlet y = 2;",
        RhaiSyntaxError,
        "line 2, column 1: expecting ';' to terminate this statement, found 'let'",
    ),
    ("end of script", "1 +", RhaiSyntaxError, "line 1, column 4: unexpected end of script"),
    ("bad character", "let a = 1;\n  @", RhaiSyntaxError, "line 2, column 3: unexpected character '@'"),
    ("unterminated string", 'let s = "abc', RhaiSyntaxError, "line 1, column 9: unterminated string literal"),
    ("bad escape", r'"\q"', RhaiSyntaxError, r"line 1, column 3: invalid escape sequence '\q'"),
    (
        "bad char literal",
        "'ab'",
        RhaiSyntaxError,
        "line 1, column 1: a character literal must hold exactly one character",
    ),
    ("bad number", "let v = 0x;", RhaiSyntaxError, "line 1, column 9: invalid number literal '0x'"),
    (
        "import",
        'import "m" as m;',
        RhaiSyntaxError,
        "line 1, column 1: unsupported syntax: 'import' statements (modules are not available)",
    ),
    (
        "export",
        "let x = 1;\nexport x;",
        RhaiSyntaxError,
        "line 2, column 1: unsupported syntax: 'export' statements (modules are not available)",
    ),
    ("namespaces", "foo::bar()", RhaiSyntaxError, "line 1, column 4: unsupported syntax: module namespaces ('::')"),
    ("eval", 'eval("1")', RhaiSyntaxError, "line 1, column 1: unsupported syntax: 'eval' (dynamic code evaluation)"),
    ("global", "global::x", RhaiSyntaxError, "line 1, column 1: unsupported syntax: the 'global::' namespace"),
    (
        "switch array pattern",
        "switch x { [1] => 1 }",
        RhaiSyntaxError,
        "line 1, column 12: unsupported syntax: array and object map 'switch' cases",
    ),
    ("reserved word", "let var = 1;", RhaiSyntaxError, "line 1, column 5: 'var' is a reserved keyword"),
    ("reserved --", "let x = 1; --x", RhaiSyntaxError, "line 1, column 12: '--' is a reserved symbol"),
    ("signed radix literal", "-0xff", RhaiSyntaxError, "line 1, column 1: invalid number literal '-0xff'"),
    (
        "block statement ends at its brace",
        "{ 1 }.to_string()",
        RhaiSyntaxError,
        "line 1, column 6: unexpected token '.'",
    ),
    (
        "if statement ends at its brace",
        "if true { 1 } else { 2 }.len()",
        RhaiSyntaxError,
        "line 1, column 25: unexpected token '.'",
    ),
    (
        "block after for-in",
        "for x in { [1] } { }",
        RhaiSyntaxError,
        "line 1, column 10: unexpected token '{' (expecting an expression to iterate over)",
    ),
    (
        "sort mixed types",
        '[3, "a"].sort()',
        RhaiRuntimeError,
        "line 1, column 10: function not found: elements of different types cannot be sorted",
    ),
    (
        "nested fn",
        "fn f() { fn g() {} }",
        RhaiSyntaxError,
        "line 1, column 10: functions can only be defined at global level",
    ),
    ("break outside loop", "let a = 1;\nbreak;", RhaiSyntaxError, "line 2, column 1: 'break' outside of a loop"),
    (
        "default not last",
        "switch 1 { _ => 1, 2 => 3 }",
        RhaiSyntaxError,
        "line 1, column 20: the default case '_' must be the last case of a 'switch'",
    ),
    (
        "duplicate map key",
        "#{a: 1, a: 2}",
        RhaiSyntaxError,
        "line 1, column 9: duplicated property 'a' in object map literal",
    ),
    (
        "assignment in condition",
        "if x = 1 {}",
        RhaiSyntaxError,
        "line 1, column 6: assignment is not allowed in a condition (did you mean '=='?)",
    ),
    ("assign to call", "f() = 1;", RhaiSyntaxError, "line 1, column 5: cannot assign to this expression"),
    # --- runtime ---------------------------------------------------------------------------------
    (
        "if condition type",
        "let x = 1;\nlet y = 2;\nif x { 1 }",
        RhaiRuntimeError,
        "line 3, column 4: the 'if' condition must be a bool, got i64",
    ),
    (
        "index out of bounds",
        "let a = [1, 2];\n  a[5]",
        RhaiRuntimeError,
        "line 2, column 4: array index 5 out of bounds for array of length 2",
    ),
    (
        "overflow",
        "let x = 9223372036854775807;\nx + 1",
        RhaiRuntimeError,
        "line 2, column 3: arithmetic overflow: 9223372036854775807 + 1",
    ),
    (
        "overflow mul",
        "4611686018427387904 * 2",
        RhaiRuntimeError,
        "line 1, column 21: arithmetic overflow: 4611686018427387904 * 2",
    ),
    (
        "overflow negate",
        "let m = -9223372036854775808;\n-m",
        RhaiRuntimeError,
        "line 2, column 1: arithmetic overflow: -(-9223372036854775808)",
    ),
    ("division by zero", "let z = 0;\n10 / z", RhaiRuntimeError, "line 2, column 4: division by zero"),
    ("unknown variable", "undefined_var + 1", RhaiRuntimeError, "line 1, column 1: variable 'undefined_var' not found"),
    ("unknown function", 'nofn(1, "a")', RhaiRuntimeError, "line 1, column 1: function not found: nofn(i64, string)"),
    ("unknown method", "let a = 1; a.foo()", RhaiRuntimeError, "line 1, column 14: function not found: foo(i64)"),
    (
        "wrong arity",
        "fn f(a) { a }\nf(1, 2)",
        RhaiRuntimeError,
        "line 2, column 1: function 'f' takes 1 arguments but 2 were given",
    ),
    (
        "operator types",
        '[1] - "a"',
        RhaiRuntimeError,
        "line 1, column 5: operator '-' is not defined for array and string",
    ),
    ("throw", 'let a = 1;\n  throw "bad thing";', RhaiRuntimeError, "line 2, column 3: runtime error: bad thing"),
    ("assign constant", "const x = 1; x = 2;", RhaiRuntimeError, "line 1, column 16: cannot assign to constant 'x'"),
    ("mutate constant", "const a = [1]; a.push(2);", RhaiRuntimeError, "line 1, column 18: cannot modify constant 'a'"),
    ("this unbound", "this", RhaiRuntimeError, "line 1, column 1: 'this' is not bound (only methods have 'this')"),
    ("for over int", "for x in 5 { }", RhaiRuntimeError, "line 1, column 10: 'for' cannot iterate over i64"),
    (
        "bit-field indexing",
        "let x = 5; x[0]",
        RhaiRuntimeError,
        "line 1, column 13: unsupported: bit-field indexing of integers",
    ),
    ("question mark operator", "let x = f()?;", RhaiSyntaxError, "line 1, column 12: unsupported syntax: '?' operator"),
    ("property on float", "1.5.foo", RhaiRuntimeError, "line 1, column 5: property 'foo' not found on f64"),
    ("parse_int failure", 'parse_int("x1")', RhaiRuntimeError, 'line 1, column 1: error parsing integer number "x1"'),
    (
        "error inside closure",
        "[1, 2].map(|x| x.nope())",
        RhaiRuntimeError,
        "line 1, column 18: function not found: nope(i64)",
    ),
    (
        "closure variable is not a function",
        "let f = |x| x + 1;\nf(1)",
        RhaiRuntimeError,
        "line 2, column 1: function not found: f(i64)",
    ),
    ("error inside fn", "fn f() {\n  1 / 0\n}\nf()", RhaiRuntimeError, "line 2, column 5: division by zero"),
    (
        "and needs bools",
        "1 && true",
        RhaiRuntimeError,
        "line 1, column 1: the left operand of '&&' must be a bool, got i64",
    ),
    (
        "http disabled",
        'http_get("http://example.com")',
        RhaiRuntimeError,
        "line 1, column 1: host function `http_get` is disabled in this pool (scripts have no network access)",
    ),
    (
        "disabled through a pointer",
        'Fn("http_get").call("http://example.com")',
        RhaiRuntimeError,
        "line 1, column 16: host function `http_get` is disabled in this pool (scripts have no network access)",
    ),
    (
        "gcp token disabled",
        "let t = get_gcp_token();",
        RhaiRuntimeError,
        "line 1, column 9: host function `get_gcp_token` is disabled in this pool (scripts have no network access)",
    ),
]


@pytest.mark.parametrize(("script", "cls", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_message(script: str, cls: type[RhaiError], message: str) -> None:
    with pytest.raises(cls) as info:
        run_script(script)
    assert str(info.value) == message
    assert info.value.line > 0
    assert info.value.column > 0


def test_error_carries_position_fields() -> None:
    with pytest.raises(RhaiSyntaxError) as info:
        run_script("let a = 1;\nlet b = ;")
    assert (info.value.line, info.value.column, info.value.reason) == (2, 9, "unexpected token ';'")


def test_thrown_value_is_kept() -> None:
    with pytest.raises(RhaiRuntimeError) as info:
        run_script("throw #{code: 7};")
    assert info.value.thrown
    assert info.value.value == {"code": 7}
