"""The built-in function table: generic functions, numbers, conversions and the NoETL host functions.

Scripts reach these by name (``len(x)``) or method-call syntax (``x.len()``), which are the same call
with the receiver as first argument. Names shared by several types (``len``, ``contains``, ``clear``...)
dispatch on the type of that first argument. Network and cloud-credential host functions of the Rust
worker are deliberately absent: calling one fails with a message saying it is disabled.
"""

from __future__ import annotations

import json
import math
import time
from decimal import ROUND_HALF_UP, Decimal

from .builtins_collections import (
    ARRAY_FUNCTIONS,
    ARRAY_MUTATORS,
    ARRAY_OVERLOADS,
    MAP_FUNCTIONS,
    MAP_MUTATORS,
    MAP_OVERLOADS,
)
from .builtins_text import STRING_FUNCTIONS, STRING_MUTATORS, STRING_OVERLOADS
from .context import Builtin, BuiltinContext, LimitBreach, signature_error
from .operators import OpError, binary
from .values import I64_MAX, I64_MIN, RhaiRange, Value, from_json, to_debug, to_display, to_json_value, type_name

__all__ = ["BUILTINS", "DISABLED_HOST_FUNCTIONS", "MUTATORS", "STRING_MUTATORS"]

#: Host functions of the Rust worker that this pool does not provide (network / cloud credentials).
DISABLED_HOST_FUNCTIONS = frozenset(
    {"http_get", "http_post", "http_delete", "http_get_auth", "http_post_auth", "http_delete_auth", "get_gcp_token"}
)
#: Names that modify their first argument in place (refused on constants).
MUTATORS = ARRAY_MUTATORS | MAP_MUTATORS | STRING_MUTATORS


def _one(name: str, args: list[Value]) -> Value:
    if len(args) != 1:
        raise signature_error(name, args)
    return args[0]


def length(ctx: BuiltinContext, args: list[Value]) -> Value:
    value = _one("len", args)
    if type(value) in (str, list, dict, RhaiRange):
        return len(value)  # type: ignore[arg-type]
    raise signature_error("len", args)


def is_empty(ctx: BuiltinContext, args: list[Value]) -> Value:
    value = _one("is_empty", args)
    if type(value) in (str, list, dict, RhaiRange):
        return len(value) == 0  # type: ignore[arg-type]
    raise signature_error("is_empty", args)


def contains(ctx: BuiltinContext, args: list[Value]) -> Value:
    if len(args) != 2 or type(args[0]) not in (str, list, dict, RhaiRange):
        raise signature_error("contains", args)
    return binary("in", args[1], args[0])


def contains_any(ctx: BuiltinContext, args: list[Value]) -> Value:
    if len(args) != 2 or type(args[0]) is not str or type(args[1]) is not list:
        raise signature_error("contains_any", args)
    text, subs = args
    assert isinstance(text, str)
    assert isinstance(subs, list)
    return any(isinstance(sub, str) and sub in text for sub in subs)


def to_string(ctx: BuiltinContext, args: list[Value]) -> Value:
    return ctx.checked(to_display(_one("to_string", args)))


def to_debug_fn(ctx: BuiltinContext, args: list[Value]) -> Value:
    return ctx.checked(to_debug(_one("to_debug", args)))


def type_of(ctx: BuiltinContext, args: list[Value]) -> Value:
    return type_name(_one("type_of", args))


def parse_int(ctx: BuiltinContext, args: list[Value]) -> Value:
    if not args or type(args[0]) is not str or len(args) > 2:
        raise signature_error("parse_int", args)
    text = args[0]
    assert isinstance(text, str)
    radix = 10
    if len(args) == 2:
        given = args[1]
        if not isinstance(given, int) or isinstance(given, bool) or not 2 <= given <= 36:
            raise OpError(f"invalid radix for parse_int: {to_debug(given)}")
        radix = given
    try:
        value = int(text.strip(), radix)
    except ValueError:
        raise OpError(f"error parsing integer number {to_debug(text)}") from None
    if not I64_MIN <= value <= I64_MAX:
        raise OpError(f"error parsing integer number {to_debug(text)}: out of range")
    return value


def parse_float(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _one("parse_float", args)
    if type(text) is not str:
        raise signature_error("parse_float", args)
    assert isinstance(text, str)
    try:
        return float(text.strip())
    except ValueError:
        raise OpError(f"error parsing floating-point number {to_debug(text)}") from None


def to_int(ctx: BuiltinContext, args: list[Value]) -> Value:
    value = _one("to_int", args)
    if type(value) is int:
        return value
    if type(value) is float:
        assert isinstance(value, float)
        if math.isnan(value):
            return 0  # Rhai checks only the range, and Rust's `as` turns NaN into 0
        if not -(2.0**63) <= value <= 2.0**63:
            raise OpError(f"integer overflow converting {to_debug(value)} to i64")
        return min(math.trunc(value), I64_MAX)  # 2**63 itself saturates, as Rust's `as` does
    if type(value) is bool:
        return 1 if value else 0
    if type(value) is str and len(value) == 1:  # char → code point, as Rhai does
        assert isinstance(value, str)
        return ord(value)
    raise signature_error("to_int", args)


def to_float(ctx: BuiltinContext, args: list[Value]) -> Value:
    value = _one("to_float", args)
    if type(value) in (int, float):
        return float(value)  # type: ignore[arg-type]
    raise signature_error("to_float", args)


def _numeric(name: str, args: list[Value]) -> int | float:
    value = _one(name, args)
    if type(value) not in (int, float):
        raise signature_error(name, args)
    assert isinstance(value, int | float)
    return value


def abs_(ctx: BuiltinContext, args: list[Value]) -> Value:
    value = _numeric("abs", args)
    if value == I64_MIN and type(value) is int:
        raise OpError(f"arithmetic overflow: abs({value})")
    return abs(value)


def sign(ctx: BuiltinContext, args: list[Value]) -> Value:
    value = _numeric("sign", args)
    return (value > 0) - (value < 0)


def _float_fn(name: str) -> Builtin:
    def apply(ctx: BuiltinContext, args: list[Value]) -> Value:
        value = _one(name, args)
        if not isinstance(value, float):
            raise signature_error(name, args)
        if name == "sqrt":
            return math.sqrt(value) if value >= 0 else math.nan
        if not math.isfinite(value):
            return value
        if name == "floor":
            return float(math.floor(value))
        if name == "ceiling":
            return float(math.ceil(value))
        # round: Rust rounds half away from zero; Python's round() rounds half to even. Decimal is exact.
        return float(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    return apply


def min_max(name: str) -> Builtin:
    def apply(ctx: BuiltinContext, args: list[Value]) -> Value:
        if len(args) != 2 or any(type(a) not in (int, float) for a in args):
            raise signature_error(name, args)
        a, b = args
        assert isinstance(a, int | float)
        assert isinstance(b, int | float)
        result = min(a, b) if name == "min" else max(a, b)
        return float(result) if float in (type(a), type(b)) else result

    return apply


def range_fn(ctx: BuiltinContext, args: list[Value]) -> Value:
    if len(args) not in (2, 3) or any(type(a) is not int for a in args):
        raise signature_error("range", args)
    start, end = args[0], args[1]
    assert isinstance(start, int)
    assert isinstance(end, int)
    if len(args) == 2:
        return RhaiRange(start, end, inclusive=False)
    step = args[2]
    assert isinstance(step, int)
    if step == 0:
        raise OpError("range step cannot be zero")
    count = max(0, (end - start + (step - (1 if step > 0 else -1))) // step)
    if count > ctx.limits.max_array_size:
        raise LimitBreach(f"array length exceeds the limit of {ctx.limits.max_array_size}")
    return list(range(start, end, step))


def print_fn(level: str, debug: bool = False) -> Builtin:
    def emit(ctx: BuiltinContext, args: list[Value]) -> Value:
        if len(args) != 1:
            raise signature_error(level if level != "print" else "print", args)
        ctx.emit(level, to_debug(args[0]) if debug else to_display(args[0]))
        return None

    return emit


def timestamp(ctx: BuiltinContext, args: list[Value]) -> Value:
    if args:
        raise signature_error("timestamp", args)
    # The reference registers `timestamp()` as the Unix time in whole seconds, as a string.
    return str(int(time.time()))


def timestamp_ms(ctx: BuiltinContext, args: list[Value]) -> Value:
    if args:
        raise signature_error("timestamp_ms", args)
    return str(time.time_ns() // 1_000_000)


def parse_json(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _one("parse_json", args)
    if type(text) is not str:
        raise signature_error("parse_json", args)
    assert isinstance(text, str)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None  # the Rust host function returns unit for invalid JSON
    try:
        return ctx.checked(from_json(data, ctx.limits.max_data_depth))
    except (ValueError, TypeError) as exc:
        raise LimitBreach(str(exc)) from None


def to_json(ctx: BuiltinContext, args: list[Value]) -> Value:
    value = _one("to_json", args)
    return ctx.checked(json.dumps(to_json_value(value), ensure_ascii=False, separators=(",", ":")))


def sleep(ctx: BuiltinContext, args: list[Value]) -> Value:
    seconds = _numeric("sleep", args)
    ctx.sleep(max(0.0, float(seconds)))
    return None


def sleep_ms(ctx: BuiltinContext, args: list[Value]) -> Value:
    millis = _numeric("sleep_ms", args)
    ctx.sleep(max(0.0, float(millis) / 1000.0))
    return None


def _dispatch(name: str, by_type: dict[type, Builtin]) -> Builtin:
    def call(ctx: BuiltinContext, args: list[Value]) -> Value:
        impl = by_type.get(type(args[0])) if args else None
        if impl is None:
            raise signature_error(name, args)
        return impl(ctx, args)

    return call


def _build() -> dict[str, Builtin]:
    table: dict[str, Builtin] = {
        "len": length,
        "is_empty": is_empty,
        "contains": contains,
        "contains_any": contains_any,
        "to_string": to_string,
        "to_debug": to_debug_fn,
        "type_of": type_of,
        "parse_int": parse_int,
        "parse_float": parse_float,
        "to_int": to_int,
        "to_float": to_float,
        "abs": abs_,
        "sign": sign,
        "floor": _float_fn("floor"),
        "ceiling": _float_fn("ceiling"),
        "round": _float_fn("round"),
        "sqrt": _float_fn("sqrt"),
        "min": min_max("min"),
        "max": min_max("max"),
        "range": range_fn,
        "print": print_fn("print"),
        "debug": print_fn("debug", debug=True),
        "log": print_fn("info"),
        "info": print_fn("info"),
        "warn": print_fn("warn"),
        "error": print_fn("error"),
        "timestamp": timestamp,
        "timestamp_ms": timestamp_ms,
        "parse_json": parse_json,
        "to_json": to_json,
        "sleep": sleep,
        "sleep_ms": sleep_ms,
    }
    overloads: dict[str, dict[type, Builtin]] = {}
    for kind, funcs in ((str, STRING_FUNCTIONS), (list, ARRAY_FUNCTIONS), (dict, MAP_FUNCTIONS)):
        for name, fn in funcs.items():
            overloads.setdefault(name, {})[kind] = fn
    for kind, funcs in ((str, STRING_OVERLOADS), (list, ARRAY_OVERLOADS), (dict, MAP_OVERLOADS)):
        for name, fn in funcs.items():
            overloads.setdefault(name, {})[kind] = fn
    for name, by_type in overloads.items():
        table[name] = next(iter(by_type.values())) if len(by_type) == 1 else _dispatch(name, by_type)
    return table


BUILTINS: dict[str, Builtin] = _build()
