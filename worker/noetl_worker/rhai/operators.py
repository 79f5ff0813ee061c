"""Built-in operators: arithmetic with i64 overflow checks, comparison, containment, concatenation.

Functions here are pure and position-free; they raise :class:`OpError` with a message and the evaluator
attaches the operator's line and column.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .values import I64_MAX, I64_MIN, RhaiRange, Value, rhai_equal, to_display, type_name

__all__ = ["OpError", "binary", "check_int", "unary"]


class OpError(Exception):
    """An operator could not be applied; the message is shown to the script author."""


def check_int(result: int, op: str, a: int, b: int) -> int:
    if I64_MIN <= result <= I64_MAX:
        return result
    raise OpError(f"arithmetic overflow: {a} {op} {b}")


def _no_op(op: str, a: Value, b: Value) -> OpError:
    return OpError(f"operator '{op}' is not defined for {type_name(a)} and {type_name(b)}")


def _int_div(a: int, b: int) -> int:
    if b == 0:
        raise OpError("division by zero")
    q = abs(a) // abs(b)  # Rust semantics: truncate toward zero
    return check_int(q if (a < 0) == (b < 0) else -q, "/", a, b)


def _int_rem(a: int, b: int) -> int:
    if b == 0:
        raise OpError("division by zero")
    r = abs(a) % abs(b)  # the remainder takes the sign of the dividend
    return -r if a < 0 else r


def _int_pow(a: int, b: int) -> int:
    if b < 0:
        raise OpError(f"integer raised to a negative power: {a} ** {b}")
    if abs(a) > 1 and b > 63:
        raise OpError(f"arithmetic overflow: {a} ** {b}")
    return check_int(a**b, "**", a, b)


def _shift(op: str, a: int, b: int) -> int:
    # Rhai's shifts never fail: a negative amount shifts the other way, and shifting by 64 or more
    # gives 0 to the left and the sign (0 or -1) to the right; bits shifted out are lost.
    if b < 0:
        return _shift(">>" if op == "<<" else "<<", a, -b)
    if op == ">>":
        return a >> min(b, 63)
    if b >= 64:
        return 0
    shifted = (a << b) & 0xFFFF_FFFF_FFFF_FFFF
    return shifted - (1 << 64) if shifted > I64_MAX else shifted


def _float_op(op: str, x: float, y: float) -> float:
    try:
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            if y == 0.0:
                # IEEE semantics, as Rust floats: no error, but inf or NaN.
                return math.nan if x == 0.0 or math.isnan(x) else math.copysign(math.inf, x) * math.copysign(1.0, y)
            return x / y
        if op == "%":
            return math.nan if y == 0.0 or math.isinf(x) else math.fmod(x, y)
        if op == "**":
            result = x**y
            # A negative base with a fractional exponent gives a complex number in Python, NaN in Rust.
            return math.nan if isinstance(result, complex) else float(result)
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.inf
    raise OpError(f"operator '{op}' is not defined for f64 and f64")


_INT_OPS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: check_int(a + b, "+", a, b),
    "-": lambda a, b: check_int(a - b, "-", a, b),
    "*": lambda a, b: check_int(a * b, "*", a, b),
    "/": _int_div,
    "%": _int_rem,
    "**": _int_pow,
    "<<": lambda a, b: _shift("<<", a, b),
    ">>": lambda a, b: _shift(">>", a, b),
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
}
_ARITH = frozenset({"+", "-", "*", "/", "%", "**"})
_COMPARE = frozenset({"<", "<=", ">", ">="})


def _compare(op: str, a: Value, b: Value) -> bool:
    ta, tb = type(a), type(b)
    numeric = (int, float)
    if not ((ta in numeric and tb in numeric) or (ta is tb and ta in (str, bool))):
        return False  # different types never compare (Rhai returns false rather than failing)
    if op == "<":
        return a < b  # type: ignore[operator]
    if op == "<=":
        return a <= b  # type: ignore[operator]
    if op == ">":
        return a > b  # type: ignore[operator]
    return a >= b  # type: ignore[operator]


def _contains(item: Value, container: Value) -> bool:
    tc = type(container)
    if tc is list:
        assert isinstance(container, list)
        return any(rhai_equal(item, x) for x in container)
    if tc is str:
        if type(item) is not str:
            raise _no_op("in", item, container)
        assert isinstance(item, str)
        assert isinstance(container, str)
        return item in container
    if tc is dict:
        if type(item) is not str:
            raise _no_op("in", item, container)
        assert isinstance(container, dict)
        return item in container
    if tc is RhaiRange:
        assert isinstance(container, RhaiRange)
        return item in container
    raise _no_op("in", item, container)


def binary(op: str, a: Value, b: Value) -> Value:
    """Apply a non-short-circuit binary operator."""
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if op in _INT_OPS:
            return _INT_OPS[op](a, b)  # type: ignore[arg-type]
    elif op in _ARITH and ta in (int, float) and tb in (int, float):
        return _float_op(op, float(a), float(b))  # type: ignore[arg-type]
    if op == "==":
        return rhai_equal(a, b)
    if op == "!=":
        return not rhai_equal(a, b)
    if op in _COMPARE:
        return _compare(op, a, b)
    if op == "+":
        if ta is str or tb is str:
            # Strings concatenate with anything, using its display text (unit adds nothing).
            return to_display(a) + to_display(b)
        if ta is list and tb is list:
            return [*a, *b]  # type: ignore[misc]
        if ta is dict and tb is dict:
            return {**a, **b}  # type: ignore[dict-item]
    if ta is bool and tb is bool and op in ("&", "|", "^"):
        if op == "&":
            return bool(a and b)
        if op == "|":
            return bool(a or b)
        return a != b
    if op == "in":
        return _contains(a, b)
    if op == "!in":
        return not _contains(a, b)
    if op in ("..", "..="):
        if ta is int and tb is int:
            assert isinstance(a, int)
            assert isinstance(b, int)
            return RhaiRange(a, b, op == "..=")
        raise OpError(f"a range needs integer bounds, got {type_name(a)} and {type_name(b)}")
    raise _no_op(op, a, b)


def unary(op: str, a: Value) -> Value:
    t = type(a)
    if op == "!":
        if t is bool:
            return not a
        raise OpError(f"operator '!' is not defined for {type_name(a)}")
    if t is int:
        assert isinstance(a, int)
        if op == "-":
            if a == I64_MIN:
                raise OpError(f"arithmetic overflow: -({a})")
            return -a
        return a
    if t is float:
        assert isinstance(a, float)
        return -a if op == "-" else a
    raise OpError(f"operator '{op}' is not defined for {type_name(a)}")
