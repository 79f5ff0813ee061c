"""Conformance table: small scripts and the values Rhai's documented semantics give for them.

Each expectation comes from the Rhai book (operators and precedence, integer semantics, strings,
arrays, object maps, control flow, functions and closures, exceptions); results are shown after the
JSON conversion the tool applies (maps → dicts with sorted keys, arrays → lists, unit → None).
"""

from __future__ import annotations

from typing import Any

import pytest
from noetl_worker.rhai import run_script

pytestmark = pytest.mark.unit

CASES: list[tuple[str, str, Any]] = [
    # --- literals --------------------------------------------------------------------------------
    ("int", "42", 42),
    ("int underscores", "1_000_000", 1_000_000),
    ("hex/oct/bin", "[0xff, 0o17, 0b101]", [255, 15, 5]),
    ("float", "3.25", 3.25),
    ("float exponent", "1.5e3", 1500.0),
    ("negative literal", "-7", -7),
    ("i64 min literal", "-9223372036854775808", -9223372036854775808),
    ("int literal beyond i64 is a float", "9223372036854775808", 9.223372036854775808e18),
    ("bool", "[true, false]", [True, False]),
    ("unit", "()", None),
    ("string escapes", r'"a\tb\n\"q\" \\ \x41\u00e9\U0001F600"', 'a\tb\n"q" \\ A\u00e9\U0001f600'),
    ("line continuation", 'let x = "hello, \\\n         world"; x', "hello, world"),
    ("char", "'x'", "x"),
    ("char escape", r"'\n'", "\n"),
    ("backtick literal keeps escapes", r"`a\nb`", "a\\nb"),
    ("backtick multi-line", "`line1\nline2`", "line1\nline2"),
    ("backtick leading newline stripped", "`\nabc`", "abc"),
    ("interpolation", "let x = 42; `x = ${x}, next = ${x + 1}`", "x = 42, next = 43"),
    ("interpolation block", '`${let w = "world"; w + "!"}`', "world!"),
    ("nested interpolation", "let n = 2; `outer ${`inner ${n * 2}`}`", "outer inner 4"),
    ("interpolation of map", "`${#{a: 1}}`", '#{"a": 1}'),
    ("array literal trailing comma", "[1, 2, 3,]", [1, 2, 3]),
    ("map literal", '#{a: 1, "b c": "x", d: [true]}', {"a": 1, "b c": "x", "d": [True]}),
    ("empty map", "#{}", {}),
    ("comments", "// line\n/* block /* nested */ */ 5 /* tail */", 5),
    # --- arithmetic and precedence ---------------------------------------------------------------
    ("precedence mul over add", "1 + 2 * 3", 7),
    ("parentheses", "(1 + 2) * 3", 9),
    ("integer division truncates", "7 / 2", 3),
    ("negative division truncates toward zero", "-7 / 2", -3),
    ("remainder sign of dividend", "[-7 % 3, 7 % -3]", [-1, 1]),
    ("power right associative", "2 ** 3 ** 2", 512),
    ("power binds tighter than mul", "2 * 3 ** 2", 18),
    ("unary minus binds tighter than power", "-2 ** 2", 4),
    ("shift binds tighter than mul", "2 * 1 << 3", 16),
    ("shift right", "-16 >> 2", -4),
    ("int float mixing", "1 + 2.5", 3.5),
    ("float division", "7.0 / 2", 3.5),
    ("float remainder", "7.5 % 2", 1.5),
    ("float power", "2.0 ** 0.5 > 1.41", True),
    ("bit ops", "[6 & 3, 6 | 3, 6 ^ 3]", [2, 7, 5]),
    ("shifts never fail", "[1 << 64, 1 << -1, 8 >> -1, -8 >> 70, 8 >> 64, 3 << 63]", [0, 0, 16, -1, 0, -(2**63)]),
    ("signed radix literal needs parentheses", "[-(0xff), 1 -0xff]", [-255, -254]),
    ("comparison below arithmetic", "1 + 1 == 2", True),
    ("in below comparison", "1 < 2 in [true]", True),
    ("and binds tighter than or", "true || false && false", True),
    ("bool bitwise", "[true & false, true | false, true ^ true]", [False, True, False]),
    ("not", "!true", False),
    ("double negation", "!!true", True),
    ("unary plus", "+5", 5),
    ("int equals float", "42 == 42.0", True),
    ("int compares with float", "[1 < 1.5, 2.0 >= 2]", [True, True]),
    ("different types are not equal", '[1 == "1", true == 1, () == false]', [False, False, False]),
    ("different types not-equal is true", '1 != "1"', True),
    ("different types ordering is false", '[1 < "2", 1 > "2"]', [False, False]),
    ("string comparison", '["abc" < "abd", "b" > "a"]', [True, True]),
    ("array equality", "[1, [2, 3]] == [1, [2, 3]]", True),
    ("map equality", "#{a: 1, b: 2} == #{b: 2, a: 1}", True),
    ("short-circuit and", "let x = 0; false && { x = 1; true }; x", 0),
    ("short-circuit or", "let x = 0; true || { x = 1; true }; x", 0),
    ("non short-circuit &", "let x = 0; false & { x = 1; true }; x", 1),
    ("null coalescing", "let m = #{}; [m.missing ?? 5, 3 ?? 4]", [5, 3]),
    # --- strings ---------------------------------------------------------------------------------
    ("string concat", '"a" + "b"', "ab"),
    ("string plus number", '"n=" + 42', "n=42"),
    ("number plus string", '42 + "!"', "42!"),
    ("string plus float", '"f=" + 1.0', "f=1.0"),
    ("string plus bool", '"b=" + true', "b=true"),
    ("string plus unit", '"u=" + ()', "u="),
    ("string plus char", "\"ab\" + 'c'", "abc"),
    ("string +=", 'let s = "a"; s += "b"; s += 1; s', "ab1"),
    ("len method and property", 'let s = "héllo"; [s.len(), s.len, len(s)]', [5, 5, 5]),
    ("to_upper/to_lower", '["Ab".to_upper(), "Ab".to_lower()]', ["AB", "ab"]),
    ("trim is in place", 'let s = "  x y  "; let r = s.trim(); [s, r]', ["x y", None]),
    ("trim function style on variable", 'let s = " x "; trim(s); s', "x"),
    ("replace is in place", 'let s = "a-b-c"; s.replace("-", "+"); s', "a+b+c"),
    ("make_upper", 'let s = "ab"; s.make_upper(); s', "AB"),
    ("contains", '["hello".contains("ell"), "hello".contains(\'z\')]', [True, False]),
    ("index_of", '["hello".index_of("l"), "hello".index_of("z"), "hello".index_of("l", 3)]', [2, -1, 3]),
    (
        "sub_string",
        '["hello".sub_string(1, 3), "hello".sub_string(2), "hello".sub_string(-3, 2)]',
        ["ell", "llo", "ll"],
    ),
    ("split", '"a,b,,c".split(",")', ["a", "b", "", "c"]),
    ("split whitespace", '" a  b ".split()', ["a", "b"]),
    ("split with count", '"a:b:c".split(":", 2)', ["a", "b:c"]),
    ("split of empty string", '["".split(), "".split(","), "a b".split("x")]', [[""], [""], ["a b"]]),
    ("split by empty separator", '["ab".split(""), "abc".split("", 2)]', [["", "a", "b", ""], ["", "abc"]]),
    ("index_of in empty string", '["".index_of(""), "a".index_of("")]', [-1, 0]),
    ("starts_with ends_with", '["hello".starts_with("he"), "hello".ends_with("lo")]', [True, True]),
    ("string index", '"hello"[1]', "e"),
    ("string negative index", '"hello"[-1]', "o"),
    ("string index assign", "let s = \"hello\"; s[0] = 'J'; s", "Jello"),
    ("is_empty", '["".is_empty(), "a".is_empty(), [].is_empty(), #{}.is_empty()]', [True, False, True, True]),
    ("string in", '["ell" in "hello", "x" in "hello"]', [True, False]),
    ("pad", "let s = \"ab\"; s.pad(5, '*'); s", "ab***"),
    ("truncate and crop", 'let s = "abcdef"; s.truncate(4); let t = s; t.crop(1, 2); [s, t]', ["abcd", "bc"]),
    ("chars", '"abc".chars()', ["a", "b", "c"]),
    ("iterate string", 'let out = []; for c in "ab" { out.push(c); } out', ["a", "b"]),
    # --- numbers -----------------------------------------------------------------------------------
    ("parse_int", 'parse_int("42") + "7".parse_int()', 49),
    ("parse_int radix", 'parse_int("ff", 16)', 255),
    ("parse_float", 'parse_float("2.5") * 2', 5.0),
    ("to_string int", "42.to_string()", "42"),
    ("to_string float", "[1.0.to_string(), 0.5.to_string(), 1e20.to_string()]", ["1.0", "0.5", "1e20"]),
    ("to_int and to_float", "[3.9.to_int(), -3.9.to_int(), 2.to_float()]", [3, -3, 2.0]),
    ("NaN to_int is 0", "(0.0 / 0.0).to_int()", 0),
    (
        "abs floor ceiling round",
        "[abs(-3), (-3.5).abs(), 2.5.floor(), 2.1.ceiling(), 2.5.round()]",
        [3, 3.5, 2.0, 3.0, 3.0],
    ),
    ("min max", "[min(3, 4), max(3, 4.5)]", [3, 4.5]),
    (
        "type_of",
        '[type_of(1), type_of(1.0), type_of("s"), type_of(true), type_of(()), type_of([]), type_of(#{})]',
        ["i64", "f64", "string", "bool", "()", "array", "map"],
    ),
    ("float display in concat", '"" + 3.0 + " " + 0.1', "3.0 0.1"),
    # --- variables and scope ---------------------------------------------------------------------
    ("let without value is unit", "let x; x", None),
    ("shadowing", "let x = 1; let x = x + 1; x", 2),
    ("block scope", "let x = 1; { let x = 2; } x", 1),
    ("block modifies outer", "let x = 1; { x = 2; } x", 2),
    ("const", "const X = 5; X * 2", 10),
    ("compound assignment", "let x = 10; x += 5; x -= 3; x *= 2; x /= 4; x %= 4; x", 2),
    ("compound power and shifts", "let x = 2; x **= 3; x <<= 1; x >>= 2; x", 4),
    ("compound bit ops", "let x = 12; x &= 10; x |= 1; x ^= 3; x", 10),
    ("last statement value with semicolon", "let x = 3; x;", 3),
    ("let as last statement is unit", "let x = 3;", None),
    ("block as expression", "let y = { let a = 2; a * 3 }; y", 6),
    ("value semantics on assignment", "let a = [1]; let b = a; b.push(2); [a, b]", [[1], [1, 2]]),
    ("value semantics in map", "let inner = [1]; let m = #{x: inner}; m.x.push(2); [inner, m.x]", [[1], [1, 2]]),
    # --- arrays ----------------------------------------------------------------------------------
    ("index", "let a = [10, 20, 30]; a[1]", 20),
    ("negative index", "let a = [10, 20, 30]; a[-1]", 30),
    ("index assign", "let a = [1, 2, 3]; a[0] = 9; a[-1] += 1; a", [9, 2, 4]),
    ("nested index assign", "let a = [[1, 2], [3]]; a[0][1] = 7; a", [[1, 7], [3]]),
    ("push pop", "let a = [1, 2]; a.push(3); let last = a.pop(); [a, last]", [[1, 2], 3]),
    ("pop empty is unit", "[].pop()", None),
    ("push function style mutates variable", "let a = []; push(a, 1); a", [1]),
    ("array len", "[[1, 2, 3].len(), len([1])]", [3, 1]),
    ("array contains and in", '[[1, 2].contains(2), 3 in [1, 2], "a" in ["a"]]', [True, False, True]),
    ("array concat", "[1] + [2, 3]", [1, 2, 3]),
    ("array += item and array", "let a = [1]; a += 2; a += [3, 4]; a", [1, 2, 3, 4]),
    ("insert remove", "let a = [1, 3]; a.insert(1, 2); let r = a.remove(0); [a, r]", [[2, 3], 1]),
    ("shift", "let a = [1, 2]; let f = a.shift(); [f, a]", [1, [2]]),
    ("reverse sort", "let a = [3, 1, 2]; a.sort(); let b = a; b.reverse(); [a, b]", [[1, 2, 3], [3, 2, 1]]),
    ("sort with comparer", "let a = [1, 3, 2]; a.sort(|x, y| y - x); a", [3, 2, 1]),
    ("sort with boolean comparer", "let a = [1, 3, 2]; a.sort(|x, y| x > y); a", [3, 2, 1]),
    ("sort comparer errors count as equal", "let a = [2, 1]; a.sort(|x, y| x.nope()); a", [2, 1]),
    (
        "sort strings and bools",
        '[{ let a = ["b", "a"]; a.sort(); a }, { let b = [true, false]; b.sort(); b }]',
        [["a", "b"], [False, True]],
    ),
    ("map", "[1, 2, 3].map(|x| x * 10)", [10, 20, 30]),
    ("map with index", "[5, 6].map(|x, i| x + i)", [5, 7]),
    ("filter", "[1, 2, 3, 4].filter(|x| x % 2 == 0)", [2, 4]),
    ("reduce with initial", "[1, 2, 3].reduce(|sum, x| sum + x, 0)", 6),
    ("reduce without initial starts at unit", "[1, 2].reduce(|acc, x| if acc == () { x } else { acc * x })", 2),
    ("some all find", "let a = [1, 5, 8]; [a.some(|x| x > 6), a.all(|x| x > 0), a.find(|x| x > 3)]", [True, True, 5]),
    ("index_of in array", '["a", "b"].index_of("b")', 1),
    ("extract", "[1, 2, 3, 4].extract(1, 2)", [2, 3]),
    ("get clamps negative index", "let a = [1, 2]; [a.get(-1), a.get(-5), a.get(2), [].get(0)]", [2, 1, None, None]),
    ("range function step", "range(0, 10, 3)", [0, 3, 6, 9]),
    # --- object maps -----------------------------------------------------------------------------
    ("property access", "let m = #{a: #{b: 5}}; m.a.b", 5),
    ("missing property is unit", "let m = #{a: 1}; m.zzz", None),
    ("index by string", 'let m = #{a: 1}; m["a"]', 1),
    ("property assign", 'let m = #{}; m.a = 1; m["b"] = 2; m.c = #{}; m.c.d = 3; m', {"a": 1, "b": 2, "c": {"d": 3}}),
    ("property compound assign", "let m = #{n: 1}; m.n += 41; m.n", 42),
    ("keys and values sorted", "let m = #{b: 2, a: 1}; [m.keys(), m.values()]", [["a", "b"], [1, 2]]),
    ("map len contains", 'let m = #{a: 1}; [m.len(), m.contains("a"), "b" in m]', [1, True, False]),
    ("map remove", 'let m = #{a: 1, b: 2}; let r = m.remove("a"); [r, m]', [1, {"b": 2}]),
    ("map merge +", "#{a: 1} + #{b: 2}", {"a": 1, "b": 2}),
    ("map mixin", "let m = #{a: 1}; m.mixin(#{a: 2, c: 3}); m", {"a": 2, "c": 3}),
    ("map fill_with", "let m = #{a: 1}; m.fill_with(#{a: 2, c: 3}); m", {"a": 1, "c": 3}),
    ("round half away from zero", "[0.5.round(), (-0.5).round(), 0.49999999999999994.round()]", [1.0, -1.0, 0.0]),
    ("elvis on unit", "let x = (); [x?.a, x?[0]]", [None, None]),
    ("method on map value", "let m = #{list: [1]}; m.list.push(2); m.list", [1, 2]),
    # --- control flow ----------------------------------------------------------------------------
    ("if expression", 'let x = 5; if x > 3 { "big" } else { "small" }', "big"),
    ("else if chain", "let x = 2; if x == 1 { 1 } else if x == 2 { 20 } else { 30 }", 20),
    ("if without else is unit", "if false { 1 }", None),
    ("if as value in let", "let y = if true { 1 } else { 2 }; y", 1),
    ("switch value", 'switch 2 { 1 => "one", 2 => "two", _ => "many" }', "two"),
    ("switch default", 'switch 9 { 1 => "one", _ => "many" }', "many"),
    ("switch no match is unit", "switch 9 { 1 => 1 }", None),
    ("switch alternatives", "switch 3 { 1 | 2 => 1, 3 | 4 => 2, _ => 0 }", 2),
    ("switch string", 'switch "b" { "a" => 1, "b" => 2 }', 2),
    ("switch range", "switch 42 { 0..10 => 1, 10..=50 => 2, _ => 3 }", 2),
    ("switch condition false", "let x = 5; switch x { 5 if x > 9 => 1, 6 => 2, _ => 3 }", 3),
    ("switch condition true", "let x = 5; switch x { 5 if x < 9 => 1, _ => 3 }", 1),
    ("switch statement arms", "let x = 0; for i in 0..5 { switch i { 1 => x += 10, 3 => break, _ => x += 1 } } x", 12),
    ("switch block arm", "switch 1 { 1 => { let a = 2; a * 2 } _ => 0 }", 4),
    ("switch is typed", "switch 1.0 { 1 => 1, _ => 2 }", 2),
    ("while", "let i = 0; let s = 0; while i < 5 { s += i; i += 1; } s", 10),
    ("loop with break value", "let i = 0; loop { i += 1; if i == 7 { break i * 2; } }", 14),
    ("loop break without value", "let i = 0; loop { i += 1; if i > 2 { break; } } i", 3),
    ("continue", "let s = 0; for i in 0..10 { if i % 2 == 0 { continue; } s += i; } s", 25),
    ("for exclusive range", "let s = []; for i in 0..3 { s.push(i); } s", [0, 1, 2]),
    ("for inclusive range", "let s = []; for i in 1..=3 { s.push(i); } s", [1, 2, 3]),
    ("for array", 'let out = ""; for x in ["a", "b"] { out += x; } out', "ab"),
    ("for with index", 'let out = []; for (x, i) in ["a", "b"] { out.push(`${i}:${x}`); } out', ["0:a", "1:b"]),
    ("for break value", "for x in [1, 5, 9] { if x > 4 { break x; } }", 5),
    ("for over range value", "let r = 2..4; let s = []; for i in r { s.push(i); } s", [2, 3]),
    ("for body may modify the array", "let a = [1, 2]; for x in a { a.push(x); } a", [1, 2, 1, 2]),
    ("do while", "let i = 0; do { i += 1; } while i < 3; i", 3),
    ("do until", "let i = 0; do { i += 1; } until i >= 4; i", 4),
    ("range in", "[3 in 1..5, 5 in 1..5, 5 in 1..=5]", [True, False, True]),
    ("nested loops with break", "let c = 0; for i in 0..3 { for j in 0..3 { if j == 1 { break; } c += 1; } } c", 3),
    # --- functions and closures ------------------------------------------------------------------
    ("fn definition", "fn add(a, b) { a + b } add(2, 3)", 5),
    ("fn defined after use", "double(4); fn double(x) { x * 2 } double(5)", 10),
    ("fn return", 'fn f(x) { if x > 0 { return "pos"; } "non-pos" } [f(1), f(-1)]', ["pos", "non-pos"]),
    ("fn recursion", "fn fact(n) { if n <= 1 { 1 } else { n * fact(n - 1) } } fact(20)", 2432902008176640000),
    ("fn overload by arity", "fn f() { 0 } fn f(a) { 1 } fn f(a, b) { 2 } [f(), f(1), f(1, 2)]", [0, 1, 2]),
    ("fn args by value", "fn f(a) { a.push(9); a } let x = [1]; let y = f(x); [x, y]", [[1], [1, 9]]),
    (
        "fn cannot see outer locals",
        'let x = 1; fn f() { let r = (); try { r = x } catch (e) { r = "no x" } r } f()',
        "no x",
    ),
    ("method-style call binds this", "fn inc(n) { this += n; } let x = 1; x.inc(5); x", 6),
    ("this in method on map", "fn total() { this.a + this.b } let m = #{a: 1, b: 2}; m.total()", 3),
    ("closure", "let add1 = |x| x + 1; add1.call(41)", 42),
    ("closure call method", "let f = |a, b| a * b; f.call(6, 7)", 42),
    ("closure captures by value", "let k = 10; let f = |x| x + k; k = 100; f.call(1)", 11),
    ("closure no params", "let f = || 5; f.call()", 5),
    ("closure block body", "let f = |x| { let y = x * 2; y + 1 }; f.call(3)", 7),
    ("closure calling closure", "let f = |x| x + 1; let g = |x| f.call(x) * 2; g.call(1)", 4),
    ("closure returned from fn", "fn adder(n) { |x| x + n } let a = adder(5); a.call(1)", 6),
    ("Fn pointer", 'fn twice(x) { x * 2 } let f = Fn("twice"); f.call(21)', 42),
    ("Fn pointer to builtin", 'let f = Fn("to_upper"); f.call("abc")', "ABC"),
    ("curry", "let f = |a, b| a - b; let g = f.curry(10); g.call(3)", 7),
    ("closures in map with captured value", "let factor = 3; [1, 2].map(|x| x * factor)", [3, 6]),
    ("return at top level", "let x = 1; return x + 1; x + 100", 2),
    # --- exceptions (try/catch is a statement: its value is unit, so results go through a variable) --
    ("try/catch is a statement of value unit", "try { 5 } catch { 6 }", None),
    ("throw and catch value", "let r = (); try { throw 42; } catch (e) { r = e + 1 } r", 43),
    ("catch map value", "let r = (); try { throw #{code: 7}; } catch (e) { r = e.code } r", 7),
    ("catch without variable", 'let r = (); try { throw 1; } catch { r = "caught" } r', "caught"),
    ("caught runtime error is a map", "let r = (); try { 1 / 0 } catch (e) { r = type_of(e) } r", "map"),
    ("caught error kind", "let r = (); try { 1 / 0 } catch (e) { r = e.error } r", "ErrorArithmetic"),
    (
        "caught error position",
        "let r = (); try { nofn() } catch (e) { r = [e.error, e.line, e.position] } r",
        ["ErrorFunctionNotFound", 1, 19],
    ),
    (
        "catch error from function",
        'let r = (); fn f() { throw "inner"; } try { f() } catch (e) { r = "got " + e } r',
        "got inner",
    ),
    ("rethrow", 'let r = (); try { try { throw "a"; } catch { throw; } } catch (e) { r = e } r', "a"),
    ("throw unit", "let r = 1; try { throw (); } catch (e) { r = e } r", None),
    ("body runs when no error", "let r = 0; try { r = 5 } catch { r = 6 } r", 5),
    ("catch index out of bounds", "let r = (); try { [1][5] } catch (e) { r = e.error } r", "ErrorArrayBounds"),
    # --- host functions --------------------------------------------------------------------------
    ("parse_json", 'let v = parse_json("{\\"a\\": [1, 2.5, null, true]}"); v', {"a": [1, 2.5, None, True]}),
    ("parse_json invalid is unit", 'parse_json("{nope")', None),
    ("to_json compact sorted", 'to_json(#{b: [1, ()], a: "x"})', '{"a":"x","b":[1,null]}'),
    ("to_json method style", "#{a: 1.5}.to_json()", '{"a":1.5}'),
    ("contains host fn", 'contains("hello", "ell")', True),
    ("contains_any", '[contains_any("hello", ["x", "ll"]), contains_any("hello", ["x"])]', [True, False]),
    ("timestamp is a string", "type_of(timestamp())", "string"),
    ("timestamp_ms parses as int", "timestamp_ms().parse_int() > 1_600_000_000_000", True),
    ("print returns unit", 'print("hi")', None),
]


@pytest.mark.parametrize(("script", "expected"), [(s, e) for _, s, e in CASES], ids=[c[0] for c in CASES])
def test_conformance(script: str, expected: Any) -> None:
    assert run_script(script).value == expected


def test_result_type_fidelity() -> None:
    # `==` above treats 1 == 1.0 == True; check the JSON types themselves for a few results.
    value = run_script("[1, 1.0, true, ()]").value
    assert [type(v) for v in value] == [int, float, bool, type(None)]


def test_scope_order_and_shadowing() -> None:
    outcome = run_script("[a, b, step]", [("a", "1"), ("b", 2), ("a", "shadow"), ("step", "s1")])
    assert outcome.value == ["shadow", 2, "s1"]


def test_scope_variables_are_mutable_and_json_shaped() -> None:
    scope = {"workload": {"items": [1, 2], "name": "x"}}
    outcome = run_script('workload.items.push(3); workload.name += "y"; workload', scope)
    assert outcome.value == {"items": [1, 2, 3], "name": "xy"}
    assert scope == {"workload": {"items": [1, 2], "name": "x"}}  # the caller's data is not mutated


def test_output_is_captured_in_order() -> None:
    outcome = run_script('print("a"); debug("b"); log("c"); info(1); warn(2.0); error([1]); 7')
    assert outcome.value == 7
    assert outcome.output == [
        ("print", "a"),
        ("debug", '"b"'),
        ("info", "c"),
        ("info", "1"),
        ("warn", "2.0"),
        ("error", "[1]"),
    ]


PLAYBOOK_POLL_SCRIPT = """
// Build API URL (the shape of the reference docs' polling step, with the network call replaced)
let url = "https://container.googleapis.com/v1/projects/"
  + project_id + "/locations/" + region + "/clusters/" + cluster_name;
let max_attempts = 60;
let attempt = 0;
let status = "";
let data = #{};
while attempt < max_attempts {
  attempt += 1;
  log("Poll attempt " + attempt + "/" + max_attempts);
  let response = `{"status": "${if attempt > 2 { "RUNNING" } else { "PROVISIONING" }}", "endpoint": "10.0.0.1"}`;
  data = parse_json(response);
  status = data["status"];
  if status == "RUNNING" {
    break;
  }
}
#{
  "status": status,
  "attempts": attempt,
  "url": url,
  "endpoint": if status == "RUNNING" { data["endpoint"] } else { "" }
}
"""


def test_playbook_style_script() -> None:
    scope = {"project_id": "p1", "region": "eu", "cluster_name": "c1"}
    outcome = run_script(PLAYBOOK_POLL_SCRIPT, scope)
    assert outcome.value == {
        "attempts": 3,
        "endpoint": "10.0.0.1",
        "status": "RUNNING",
        "url": "https://container.googleapis.com/v1/projects/p1/locations/eu/clusters/c1",
    }
    assert outcome.output[:2] == [("info", "Poll attempt 1/60"), ("info", "Poll attempt 2/60")]
