"""Hypothesis strategies that write Rhai scripts inside the documented subset (docs/rhai.md).

Scripts are built from typed expression grammars (integers, floats, strings, booleans, arrays, maps),
so most of them are well-typed and reach deep into the builtins, while some mix types on purpose
(comparisons across types, an operator applied to the wrong operand) to compare error classes too.
Integer leaves include values next to the i64 bounds so overflow is exercised; loops use break and
continue; closures are called with ``.call`` and passed to ``map``/``filter``/``reduce``.

Every script runs with the variables in ``SCOPE`` pushed first, as the tool pushes its context.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st

SCOPE: list[tuple[str, Any]] = [
    ("a", 7),
    ("b", -3),
    ("big", 9223372036854775000),
    ("x", 2.5),
    ("s", "Hello, World"),
    ("arr", [3, 1, 2]),
    ("m", {"k": 1, "name": "two", "list": [1, 2]}),
]

INT_LEAVES = [
    "0", "1", "2", "3", "7", "10", "-1", "-5", "100", "a", "b", "big", "255", "0xff", "0b101", "1_000",
    "2147483648", "4611686018427387904", "9223372036854775807", "-9223372036854775807",
    "(-9223372036854775807 - 1)",
]  # fmt: skip
FLOAT_LEAVES = ["0.0", "0.5", "1.5", "-2.25", "3.0", "1e3", "x", "0.1", "1e-3", "100.0", "2.5e10"]
STRING_LEAVES = ['""', '"abc"', '"a,b,,c"', '"  pad me  "', '"héllo"', "s", '"Hello"', '"x"', '"42"', '"-7"', '"3.5"']
SMALL = st.integers(min_value=-3, max_value=12).map(str)


def _binary(left: st.SearchStrategy[str], ops: list[str], right: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(left, st.sampled_from(ops), right).map(lambda t: f"({t[0]} {t[1]} {t[2]})")


@cache
def ints(depth: int = 3) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(INT_LEAVES) | st.integers(min_value=-1000, max_value=1000).map(str)
    if depth == 0:
        return leaf
    sub = ints(depth - 1)
    return st.one_of(
        leaf,
        _binary(sub, ["+", "-", "*", "/", "%", "&", "|", "^"], sub),
        _binary(sub, ["**"], st.integers(0, 5).map(str)),
        _binary(sub, ["<<", ">>"], st.integers(-70, 70).map(str)),
        sub.map(lambda e: f"-({e})"),
        sub.map(lambda e: f"abs({e})"),
        st.tuples(sub, sub).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"max({t[0]}, {t[1]})"),
        sub.map(lambda e: f"({e}).sign()"),
        texts(depth - 1).map(lambda e: f"{e}.len()"),
        arrays(depth - 1).map(lambda e: f"{e}.len()"),
        st.tuples(bools(depth - 1), sub, sub).map(lambda t: f"if {t[0]} {{ {t[1]} }} else {{ {t[2]} }}"),
        sub.map(lambda e: f"parse_int(({e}).to_string())"),
        floats(depth - 1).map(lambda e: f"({e}).to_int()"),
        st.tuples(texts(depth - 1), texts(depth - 1)).map(lambda t: f"{t[0]}.index_of({t[1]})"),
    )


@cache
def floats(depth: int = 2) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(FLOAT_LEAVES)
    if depth == 0:
        return leaf
    sub = floats(depth - 1)
    return st.one_of(
        leaf,
        _binary(sub, ["+", "-", "*", "/", "%"], sub | ints(0)),
        _binary(ints(0), ["+", "-", "*", "/"], sub),
        _binary(sub, ["**"], st.sampled_from(["0.5", "2", "3.0", "-1"])),
        st.sampled_from(["floor", "ceiling", "round", "abs", "to_float", "sqrt"]).flatmap(
            lambda f: sub.map(lambda e: f"({e}).{f}()")
        ),
        ints(depth - 1).map(lambda e: f"to_float({e})"),
        st.sampled_from(STRING_LEAVES).map(lambda e: f"parse_float({e})"),
    )


@cache
def texts(depth: int = 2) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(STRING_LEAVES)
    if depth == 0:
        return leaf
    sub = texts(depth - 1)
    anything = st.one_of(ints(0), floats(0), bools(0), sub, st.just("()"))
    return st.one_of(
        leaf,
        st.tuples(sub, anything).map(lambda t: f"({t[0]} + {t[1]})"),
        st.tuples(anything, sub).map(lambda t: f"({t[0]} + {t[1]})"),
        sub.map(lambda e: f"{e}.to_upper()"),
        sub.map(lambda e: f"{e}.to_lower()"),
        st.tuples(sub, SMALL, SMALL).map(lambda t: f"{t[0]}.sub_string({t[1]}, {t[2]})"),
        st.tuples(sub, SMALL).map(lambda t: f"{t[0]}.sub_string({t[1]})"),
        anything.map(lambda e: f"({e}).to_string()"),
        anything.map(lambda e: f"`<${{{e}}}>`"),
        st.tuples(sub, st.sampled_from(["trim", "make_upper", "make_lower", "clear"])).map(
            lambda t: f"{{ let t = {t[0]}; t.{t[1]}(); t }}"
        ),
        st.tuples(sub, st.sampled_from(['"a"', '"l"', '","', '" "']), sub).map(
            lambda t: f"{{ let t = {t[0]}; t.replace({t[1]}, {t[2]}); t }}"
        ),
        st.tuples(sub, SMALL).map(lambda t: f'{{ let t = {t[0]}; t.pad({t[1]}, "*"); t }}'),
        st.tuples(sub, SMALL).map(lambda t: f"{{ let t = {t[0]}; t.truncate({t[1]}); t }}"),
        st.tuples(sub, SMALL, SMALL).map(lambda t: f"{{ let t = {t[0]}; t.crop({t[1]}, {t[2]}); t }}"),
        st.tuples(sub, SMALL).map(lambda t: f'("" + {t[0]}[{t[1]}])'),
        arrays(depth - 1).map(lambda e: f"to_json({e})"),
        maps(depth - 1).map(lambda e: f"to_json({e})"),
    )


@cache
def bools(depth: int = 2) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(["true", "false", "(a > b)", "(x < 1.0)"])
    if depth == 0:
        return leaf
    sub = bools(depth - 1)
    scalar = st.one_of(ints(0), floats(0), texts(0), sub, st.just("()"))
    return st.one_of(
        leaf,
        sub.map(lambda e: f"!{e}"),
        _binary(sub, ["&&", "||", "&", "|", "^"], sub),
        _binary(scalar, ["==", "!=", "<", "<=", ">", ">="], scalar),
        _binary(ints(depth - 1), ["==", "!=", "<", ">="], floats(depth - 1)),
        st.tuples(texts(depth - 1), texts(depth - 1), st.sampled_from(["contains", "starts_with", "ends_with"])).map(
            lambda t: f"{t[0]}.{t[2]}({t[1]})"
        ),
        st.tuples(texts(0), texts(depth - 1)).map(lambda t: f"({t[0]} in {t[1]})"),
        st.tuples(scalar, arrays(depth - 1)).map(lambda t: f"({t[0]} in {t[1]})"),
        st.tuples(texts(0), maps(depth - 1)).map(lambda t: f"({t[0]} in {t[1]})"),
        st.tuples(ints(0), st.sampled_from(["0..5", "-3..=3", "7..7"])).map(lambda t: f"({t[0]} in {t[1]})"),
        arrays(depth - 1).map(lambda e: f"{e}.is_empty()"),
    )


@cache
def arrays(depth: int = 2) -> st.SearchStrategy[str]:
    element = st.one_of(ints(0), floats(0), texts(0), bools(0), st.just("()"))
    leaf = st.one_of(st.just("arr"), st.just("[]"), st.lists(element, max_size=4).map(lambda xs: f"[{', '.join(xs)}]"))
    if depth == 0:
        return leaf
    sub = arrays(depth - 1)
    numbers = st.lists(ints(0), min_size=0, max_size=5).map(lambda xs: f"[{', '.join(xs)}]") | st.just("arr")
    body = ints(1)
    return st.one_of(
        leaf,
        _binary(sub, ["+"], sub),
        st.tuples(numbers, body).map(lambda t: f"{t[0]}.map(|v| v + {t[1]})"),
        st.tuples(numbers, SMALL).map(lambda t: f"{t[0]}.filter(|v| v > {t[1]})"),
        st.tuples(numbers, SMALL).map(lambda t: f"{t[0]}.map(|v, i| v * i + {t[1]})"),
        st.tuples(sub, element).map(lambda t: f"{{ let t = {t[0]}; t.push({t[1]}); t }}"),
        st.tuples(sub, element, SMALL).map(lambda t: f"{{ let t = {t[0]}; t.insert({t[2]}, {t[1]}); t }}"),
        st.tuples(sub, st.sampled_from(["pop", "shift", "reverse", "clear", "dedup"])).map(
            lambda t: f"{{ let t = {t[0]}; t.{t[1]}(); t }}"
        ),
        numbers.map(lambda e: f"{{ let t = {e}; t.sort(); t }}"),
        sub.map(lambda e: f"{{ let t = {e}; t.sort(); t }}"),
        st.tuples(sub, st.sampled_from(["p < q", "p > q", "p == q", "(p - q).to_string()", "p"])).map(
            lambda t: f"{{ let t = {t[0]}; t.sort(|p, q| {t[1]}); t }}"
        ),
        numbers.map(lambda e: f"{{ let t = {e}; t.sort(|p, q| q - p); t }}"),
        st.tuples(sub, SMALL).map(lambda t: f"{{ let t = {t[0]}; t.truncate({t[1]}); t }}"),
        st.tuples(sub, SMALL).map(lambda t: f"{{ let t = {t[0]}; t.remove({t[1]}); t }}"),
        st.tuples(sub, SMALL, SMALL).map(lambda t: f"{t[0]}.extract({t[1]}, {t[2]})"),
        st.tuples(texts(depth - 1), st.sampled_from(['","', '" "', '"l"'])).map(lambda t: f"{t[0]}.split({t[1]})"),
        texts(depth - 1).map(lambda e: f"{e}.split()"),
        maps(depth - 1).map(lambda e: f"{e}.keys()"),
        maps(depth - 1).map(lambda e: f"{e}.values()"),
        st.tuples(sub, SMALL).map(lambda t: f"[{t[0]}.get({t[1]})]"),
        st.tuples(SMALL, SMALL).map(lambda t: f"{{ let r = []; for i in {t[0]}..{t[1]} {{ r.push(i); }} r }}"),
    )


@cache
def maps(depth: int = 2) -> st.SearchStrategy[str]:
    value = st.one_of(ints(0), floats(0), texts(0), bools(0), st.just("()"), st.just("[1, 2]"))
    keys = st.sampled_from(["k", "name", "a", "b c", "z"])
    literal = st.dictionaries(keys, value, max_size=3).map(
        lambda d: "#{" + ", ".join(f'"{k}": {v}' if " " in k else f"{k}: {v}" for k, v in d.items()) + "}"
    )
    leaf = st.one_of(st.just("m"), st.just("#{}"), literal)
    if depth == 0:
        return leaf
    sub = maps(depth - 1)
    return st.one_of(
        leaf,
        _binary(sub, ["+"], sub),
        st.tuples(sub, keys, value).map(lambda t: f'{{ let t = {t[0]}; t["{t[1]}"] = {t[2]}; t }}'),
        st.tuples(sub, st.sampled_from(["k", "name", "z"]), value).map(
            lambda t: f"{{ let t = {t[0]}; t.{t[1]} = {t[2]}; t }}"
        ),
        st.tuples(sub, keys).map(lambda t: f'{{ let t = {t[0]}; t.remove("{t[1]}"); t }}'),
        st.tuples(sub, sub, st.sampled_from(["mixin", "fill_with"])).map(
            lambda t: f"{{ let t = {t[0]}; t.{t[2]}({t[1]}); t }}"
        ),
        st.tuples(sub, st.sampled_from(["k", "name", "missing"])).map(lambda t: f"#{{v: {t[0]}.{t[1]}}}"),
        sub.map(lambda e: f"#{{n: {e}.len(), e: {e}.is_empty()}}"),
    )


def _program(expression: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Either the expression itself or bound to a variable first (exercising `let` and copies)."""
    # A script that starts with `{` would be a block statement, which no method call may continue.
    bare = expression.map(lambda e: f"({e})" if e.startswith("{") else e)
    return st.one_of(bare, expression.map(lambda e: f"let v = {e}; v"), expression.map(lambda e: f"[{e}]"))


def arithmetic() -> st.SearchStrategy[str]:
    return _program(st.one_of(ints(3), floats(2), st.tuples(ints(2), floats(2)).map(lambda t: f"{t[0]} + {t[1]}")))


def text() -> st.SearchStrategy[str]:
    return _program(texts(3))


def collections() -> st.SearchStrategy[str]:
    return _program(st.one_of(arrays(2), maps(2), st.tuples(arrays(1), SMALL).map(lambda t: f"{t[0]}[{t[1]}]")))


def loops() -> st.SearchStrategy[str]:
    step = ints(1)
    n, k = st.integers(0, 25), st.integers(1, 6)
    return st.one_of(
        st.tuples(n, k, st.integers(0, 30), step).map(
            lambda t: (
                f"let s = 0; for i in 0..{t[0]} {{ if i % {t[1]} == 0 {{ continue; }} "
                f"if i > {t[2]} {{ break; }} s += {t[3]} * i; }} s"
            )
        ),
        st.tuples(n, k, step).map(
            lambda t: (
                f"let i = 0; let out = []; while i < {t[0]} {{ i += 1; if i % {t[1]} == 1 {{ continue; }} "
                f"out.push(i + {t[2]}); }} out"
            )
        ),
        st.tuples(n, k).map(lambda t: f"let i = 0; loop {{ i += 1; if i > {t[0]} {{ break i * {t[1]}; }} }}"),
        st.tuples(n, k).map(lambda t: f"let i = 0; do {{ i += {t[1]}; }} until i >= {t[0]}; i"),
        st.tuples(arrays(1), k).map(
            lambda t: (
                f"let it = {t[0]}; let out = []; for (v, i) in it {{ if i == {t[1]} {{ break; }} "
                "out.push([i, v]); } out"
            )
        ),
        st.tuples(texts(1), k).map(
            lambda t: f"let it = {t[0]}; let out = \"\"; for c in it {{ if c == ' ' {{ continue; }} out += c; }} out"
        ),
        st.tuples(n, n).map(
            lambda t: (
                f"let c = 0; for i in 0..{t[0] % 6} {{ for j in 0..{t[1] % 6} {{ if j > i {{ break; }} c += 1; }} }} c"
            )
        ),
        st.tuples(n, step).map(lambda t: f"let r = for i in 0..{t[0]} {{ if i * i > {t[1]} {{ break i; }} }}; r"),
    )


def comparisons_and_closures() -> st.SearchStrategy[str]:
    closure = ints(1)
    return st.one_of(
        _program(bools(3)),
        st.one_of(
            st.tuples(ints(0), closure).map(lambda t: f"let k = {t[0]}; let f = |p| p + k; [f.call(1), f.call(k)]"),
            st.tuples(closure, arrays(1)).map(lambda t: f"{t[1]}.reduce(|acc, p| acc + p * 2, {t[0]})"),
            st.tuples(closure, ints(0)).map(lambda t: f"let f = |p, q| p * q - {t[0]}; f.call({t[1]}, 3)"),
            st.tuples(arrays(1), SMALL).map(
                lambda t: (
                    f'[{t[0]}.some(|p| p == {t[1]}), {t[0]}.all(|p| type_of(p) == "i64"), '
                    f"{t[0]}.find(|p| p != {t[1]}), {t[0]}.index_of(|p| p == {t[1]})]"
                )
            ),
            st.tuples(ints(0), ints(0)).map(
                lambda t: f'fn twice(n) {{ n * 2 }} let f = Fn("twice"); [f.call({t[0]}), twice({t[1]})]'
            ),
            st.tuples(ints(0), ints(0)).map(lambda t: f"let g = |p, q| p - q; let h = g.curry({t[0]}); h.call({t[1]})"),
            st.tuples(ints(1), ints(0)).map(
                lambda t: f'switch {t[0]} {{ 0 => "zero", 1 | 2 => "small", 3..10 => "mid", _ => "other" }}'
            ),
        ),
    )


def statements() -> st.SearchStrategy[str]:
    """Exceptions, switch, functions, methods on `this`, constants, compound assignment, JSON helpers."""
    any_value = st.one_of(ints(1), floats(0), texts(1), bools(1), arrays(1), maps(1))
    compound = st.sampled_from(["+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", "&=", "|=", "^="])
    return st.one_of(
        st.tuples(any_value, any_value).map(
            lambda t: f"let r = (); try {{ throw {t[0]}; }} catch (e) {{ r = [e, {t[1]}]; }} r"
        ),
        st.tuples(ints(2), ints(1)).map(
            lambda t: f"let r = #{{}}; try {{ r.value = {t[0]}; }} catch (e) {{ r.kind = e.error; }} r"
        ),
        st.tuples(ints(1), compound, ints(1)).map(lambda t: f"let v = {t[0]}; v {t[1]} {t[2]}; v"),
        st.tuples(texts(1), any_value).map(lambda t: f"let v = {t[0]}; v += {t[1]}; v"),
        st.tuples(any_value, st.sampled_from(["0", "1", '"a"', "true", "()", "2.0", "'x'"])).map(
            lambda t: (
                f'switch {t[0]} {{ 0 => "zero", 1 | 2 => "small", "a" => "text", true => "yes", '
                f'() => "unit", 2.0 => "float", \'x\' => "char", _ => "other" }}'
            )
        ),
        st.tuples(ints(1), st.integers(0, 12)).map(
            lambda t: f"fn f(n) {{ if n <= 0 {{ {t[0]} }} else {{ n + f(n - 1) }} }} f({t[1]})"
        ),
        st.tuples(ints(1), ints(0)).map(
            lambda t: f"fn bump(d) {{ this += d; this }} let v = {t[0]}; v.bump({t[1]}); v"
        ),
        st.tuples(arrays(1), any_value).map(
            lambda t: f"fn add(x) {{ this.push(x); }} let v = {t[0]}; v.add({t[1]}); v"
        ),
        st.tuples(ints(1), ints(1)).map(lambda t: f"const K = {t[0]}; let v = K * 2; [v, K + {t[1]}]"),
        any_value.map(lambda e: f"parse_json(to_json({e}))"),
        any_value.map(lambda e: f"to_json([{e}, #{{z: {e}}}])"),
        st.tuples(texts(1), arrays(1)).map(lambda t: f"contains_any({t[0]}, {t[1]})"),
        st.tuples(texts(1), texts(1)).map(lambda t: f"contains({t[0]}, {t[1]})"),
        st.tuples(ints(1), ints(1)).map(lambda t: f"let a1 = {t[0]}; let b1 = {t[1]}; `${{a1}} and ${{b1 * 2}}`"),
        st.tuples(ints(1), st.integers(0, 6)).map(
            lambda t: (
                f"let i = 0; let s = []; do {{ i += 1; if i == 2 {{ continue; }} s.push(i * {t[0]}); }} "
                f"while i < {t[1]}; s"
            )
        ),
    )
