"""Script values and their conversions.

A script can only ever hold these Python types: ``int`` (i64 range enforced by the operators), ``float``,
``str`` (a Rhai ``char`` is a one-character ``str``), ``bool``, ``None`` (unit ``()``), ``list`` (array),
``dict`` with ``str`` keys (object map), :class:`RhaiFn` (function pointer / closure) and
:class:`RhaiRange`. Nothing else is admitted — :func:`from_json` rejects foreign objects — so no Python
object or attribute is reachable from a script.

Rhai has value semantics (assigning an array copies it); the evaluator calls :func:`copy_value` wherever
a value is stored, and charges the copied elements as operations so that copying cannot blow up memory
or time unnoticed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from .nodes import Node

__all__ = [
    "I64_MAX",
    "I64_MIN",
    "RhaiFn",
    "RhaiRange",
    "Value",
    "copy_value",
    "format_float",
    "from_json",
    "rhai_equal",
    "to_debug",
    "to_display",
    "to_json_value",
    "type_name",
]

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1

Value: TypeAlias = "int | float | str | bool | None | list[Value] | dict[str, Value] | RhaiFn | RhaiRange"


@dataclass(frozen=True, slots=True, eq=False)
class RhaiFn:
    """A function pointer (``Fn("name")``) or a closure (``|x| ...``).

    For a closure, ``body`` is the expression and ``captured`` the variables copied at creation time;
    for a named pointer ``body`` is None and ``name`` is resolved at call time. ``curried`` arguments
    (from ``.curry(...)``) are prepended on every call.
    """

    name: str
    params: tuple[str, ...] = ()
    body: Node | None = None
    captured: tuple[tuple[str, Value], ...] = ()
    curried: tuple[Value, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class RhaiRange:
    """An integer range ``start..end`` or ``start..=end``."""

    start: int
    end: int
    inclusive: bool

    @property
    def stop(self) -> int:
        """Exclusive upper bound."""
        return self.end + 1 if self.inclusive else self.end

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __contains__(self, item: object) -> bool:
        return type(item) is int and self.start <= item < self.stop


def type_name(value: Value) -> str:
    """The name ``type_of()`` returns, as Rhai spells it."""
    t = type(value)
    if t is int:
        return "i64"
    if t is float:
        return "f64"
    if t is str:
        return "string"
    if t is bool:
        return "bool"
    if value is None:
        return "()"
    if t is list:
        return "array"
    if t is dict:
        return "map"
    if t is RhaiFn:
        return "Fn"
    if t is RhaiRange:
        assert isinstance(value, RhaiRange)
        return "range=" if value.inclusive else "range"
    return "?"


def format_float(x: float) -> str:
    """Rhai's float display: plain decimal with at least one fractional digit between 1e-13 and 1e13,
    scientific (Rust ``{:e}`` style, e.g. ``1e20``, ``1.5e-14``) outside that range."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    magnitude = abs(x)
    if magnitude == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if magnitude > 1e13 or magnitude < 1e-13:
        # Shortest round-tripping digits (from repr), laid out as d.ddd e exp like Rust's `{:e}`.
        sign, digit_tuple, exp = Decimal(repr(x)).as_tuple()
        assert isinstance(exp, int)
        digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
        exponent = exp + len(digit_tuple) - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{exponent}"
    # repr gives the shortest round-tripping digits; Decimal lays them out without an exponent.
    text = format(Decimal(repr(x)), "f")
    return text if "." in text else text + ".0"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def to_display(value: Value) -> str:
    """``to_string()`` / ``print`` / interpolation text."""
    t = type(value)
    if t is str:
        assert isinstance(value, str)
        return value
    if value is None:
        return ""
    return to_debug(value)


def to_debug(value: Value) -> str:
    """``debug()`` text: like :func:`to_display` but strings quoted and unit shown as ``()``."""
    t = type(value)
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        assert isinstance(value, float)
        return format_float(value)
    if t is str:
        assert isinstance(value, str)
        return _quote(value)
    if value is None:
        return "()"
    if t is list:
        assert isinstance(value, list)
        return "[" + ", ".join(to_debug(item) for item in value) + "]"
    if t is dict:
        assert isinstance(value, dict)
        items = ", ".join(f"{_quote(k)}: {to_debug(value[k])}" for k in sorted(value))
        return "#{" + items + "}"
    if t is RhaiFn:
        assert isinstance(value, RhaiFn)
        return f"Fn({value.name})"
    if t is RhaiRange:
        assert isinstance(value, RhaiRange)
        return f"{value.start}..{'=' if value.inclusive else ''}{value.end}"
    return "?"


def rhai_equal(a: Value, b: Value) -> bool:
    """``==`` semantics: ints and floats compare numerically, other mixed types are never equal (in
    particular ``true != 1``, unlike Python), arrays and maps compare element-wise."""
    ta, tb = type(a), type(b)
    if ta is not tb:
        if ta in (int, float) and tb in (int, float):
            return a == b
        return False
    if ta is list:
        assert isinstance(a, list)
        assert isinstance(b, list)
        return len(a) == len(b) and all(rhai_equal(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        assert isinstance(a, dict)
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(rhai_equal(a[k], b[k]) for k in a)
    if ta is RhaiFn:
        return a is b
    return a == b


def copy_value(value: Value, charge: Callable[[int], None], max_depth: int, depth: int = 0) -> Value:
    """A deep copy of arrays and maps (scalars and functions are immutable and returned as is).

    ``charge(n)`` is called with the number of elements copied so the caller can count them as
    operations; nesting deeper than ``max_depth`` raises ``ValueError``.
    """
    t = type(value)
    if t is list:
        assert isinstance(value, list)
        if depth >= max_depth:
            raise ValueError(f"data nesting exceeds the limit of {max_depth}")
        charge(len(value))
        return [copy_value(v, charge, max_depth, depth + 1) if type(v) in (list, dict) else v for v in value]
    if t is dict:
        assert isinstance(value, dict)
        if depth >= max_depth:
            raise ValueError(f"data nesting exceeds the limit of {max_depth}")
        charge(len(value))
        return {
            k: copy_value(v, charge, max_depth, depth + 1) if type(v) in (list, dict) else v for k, v in value.items()
        }
    return value


def from_json(data: Any, max_depth: int, depth: int = 0) -> Value:
    """Convert JSON-shaped Python data (context variables, ``parse_json``) into script values.

    Integers outside i64 become floats (as serde_json does for large numbers); anything that is not
    JSON-shaped raises ``TypeError`` — the guard that keeps Python objects out of scripts.
    """
    t = type(data)
    if data is None or t is bool or t is str:
        return data  # type: ignore[no-any-return]
    if t is int:
        return data if I64_MIN <= data <= I64_MAX else float(data)
    if t is float:
        return data  # type: ignore[no-any-return]
    if depth >= max_depth:
        raise ValueError(f"data nesting exceeds the limit of {max_depth}")
    if t is list or t is tuple:
        return [from_json(item, max_depth, depth + 1) for item in data]
    if t is dict:
        out: dict[str, Value] = {}
        for key, item in data.items():
            if type(key) is not str:
                raise TypeError(f"object keys must be strings, got {type(key).__name__}")
            out[key] = from_json(item, max_depth, depth + 1)
        return out
    raise TypeError(f"values of type {t.__name__} cannot be passed to a script")


def to_json_value(value: Value) -> Any:
    """Convert a script value to JSON data: maps become objects with sorted keys (Rhai maps are ordered
    by key), arrays lists, unit null; non-finite floats become null as serde_json does; function
    pointers and ranges become their display text."""
    t = type(value)
    if value is None or t in (bool, int, str):
        return value
    if t is float:
        assert isinstance(value, float)
        return value if math.isfinite(value) else None
    if t is list:
        assert isinstance(value, list)
        return [to_json_value(item) for item in value]
    if t is dict:
        assert isinstance(value, dict)
        return {k: to_json_value(value[k]) for k in sorted(value)}
    return to_debug(value)
