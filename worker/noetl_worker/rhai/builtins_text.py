"""String built-ins: ``len``, ``trim``, ``split``, ``replace``, ``sub_string``, ``index_of``...

Functions that Rhai defines as in-place mutators of a string (``trim``, ``replace``, ``pad``,
``truncate``, ``crop``, ``clear``, ``make_upper``, ``make_lower``, ``append``) return the *new* string
here; the evaluator writes it back to the variable and gives the script unit, as Rhai does.
"""

from __future__ import annotations

from .context import Builtin, BuiltinContext, LimitBreach, signature_error
from .values import Value, to_display

__all__ = ["STRING_FUNCTIONS", "STRING_MUTATORS", "STRING_OVERLOADS"]

STRING_MUTATORS = frozenset(
    {"trim", "replace", "pad", "truncate", "crop", "clear", "make_upper", "make_lower", "append"}
)


def _s(name: str, args: list[Value], count: int | tuple[int, ...]) -> str:
    counts = (count,) if isinstance(count, int) else count
    if len(args) not in counts or type(args[0]) is not str:
        raise signature_error(name, args)
    value = args[0]
    assert isinstance(value, str)
    return value


def _int_arg(name: str, args: list[Value], i: int) -> int:
    value = args[i]
    if type(value) is not int:
        raise signature_error(name, args)
    assert isinstance(value, int)
    return value


def _str_arg(name: str, args: list[Value], i: int) -> str:
    value = args[i]
    if type(value) is not str:
        raise signature_error(name, args)
    assert isinstance(value, str)
    return value


def _start_index(start: int, length: int) -> int:
    # Negative start counts from the end; out-of-range starts clamp (Rhai's sub_string/crop).
    if start < 0:
        start = max(0, length + start)
    return min(start, length)


def to_upper(ctx: BuiltinContext, args: list[Value]) -> Value:
    return _s("to_upper", args, 1).upper()


def to_lower(ctx: BuiltinContext, args: list[Value]) -> Value:
    return _s("to_lower", args, 1).lower()


def make_upper(ctx: BuiltinContext, args: list[Value]) -> Value:
    return _s("make_upper", args, 1).upper()


def make_lower(ctx: BuiltinContext, args: list[Value]) -> Value:
    return _s("make_lower", args, 1).lower()


def trim(ctx: BuiltinContext, args: list[Value]) -> Value:
    return _s("trim", args, 1).strip()


def clear_string(ctx: BuiltinContext, args: list[Value]) -> Value:
    _s("clear", args, 1)
    return ""


def replace(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _s("replace", args, 3)
    find, sub = _str_arg("replace", args, 1), _str_arg("replace", args, 2)
    if find == "":
        return text
    if sub and text.count(find) * (len(sub) - len(find)) + len(text) > ctx.limits.max_string_size:
        raise LimitBreach(f"string length exceeds the limit of {ctx.limits.max_string_size}")
    return text.replace(find, sub)


def pad(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _s("pad", args, (2, 3))
    target = _int_arg("pad", args, 1)
    filler = _str_arg("pad", args, 2) if len(args) > 2 else " "
    if target > ctx.limits.max_string_size:
        raise LimitBreach(f"string length exceeds the limit of {ctx.limits.max_string_size}")
    if len(text) >= target or not filler:
        return text
    missing = target - len(text)
    return text + (filler * (missing // len(filler) + 1))[:missing]


def truncate_string(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _s("truncate", args, 2)
    return text[: max(0, _int_arg("truncate", args, 1))]


def crop(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _s("crop", args, (2, 3))
    start = _start_index(_int_arg("crop", args, 1), len(text))
    if len(args) == 3:
        count = _int_arg("crop", args, 2)
        return "" if count <= 0 else text[start : start + count]
    return text[start:]


def append(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _s("append", args, 2)
    return ctx.checked(text + to_display(args[1]))


def sub_string(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _s("sub_string", args, (2, 3))
    start = _start_index(_int_arg("sub_string", args, 1), len(text))
    if len(args) == 3:
        count = _int_arg("sub_string", args, 2)
        return "" if count <= 0 else text[start : start + count]
    return text[start:]


def string_index_of(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _s("index_of", args, (2, 3))
    find = _str_arg("index_of", args, 1)
    if not text:
        return -1  # Rhai: nothing is found in an empty string, not even ""
    start = _start_index(_int_arg("index_of", args, 2), len(text)) if len(args) == 3 else 0
    return text.find(find, start)


def _rust_split(text: str, sep: str, segments: int | None) -> list[str]:
    """``str::split``/``splitn`` as Rust (so Rhai) does them: an empty separator matches between every
    character and at both ends (``"ab".split("")`` is ``["", "a", "b", ""]``)."""
    if sep:
        return text.split(sep) if segments is None else text.split(sep, segments - 1)
    parts = ["", *text, ""]
    if segments is not None and len(parts) > segments:
        parts = [*parts[: segments - 1], "".join(parts[segments - 1 :])]
    return parts


def split(ctx: BuiltinContext, args: list[Value]) -> Value:
    text = _s("split", args, (1, 2, 3))
    if len(args) == 1:
        # Rhai gives an empty string back as its only segment, whatever the separator.
        return list(text.split()) if text else [text]
    if type(args[1]) is int:
        # split(index): two parts around a character position.
        at = args[1]
        assert isinstance(at, int)
        at = _start_index(at, len(text))
        return [text[:at], text[at:]]
    sep = _str_arg("split", args, 1)
    segments = _int_arg("split", args, 2) if len(args) == 3 else None
    if not text or (sep and sep not in text) or (segments is not None and segments <= 1):
        return [text]
    return ctx.checked(list[Value](_rust_split(text, sep, segments)))


def starts_with(ctx: BuiltinContext, args: list[Value]) -> Value:
    return _s("starts_with", args, 2).startswith(_str_arg("starts_with", args, 1))


def ends_with(ctx: BuiltinContext, args: list[Value]) -> Value:
    return _s("ends_with", args, 2).endswith(_str_arg("ends_with", args, 1))


def chars(ctx: BuiltinContext, args: list[Value]) -> Value:
    return ctx.checked(list(_s("chars", args, 1)))


STRING_FUNCTIONS: dict[str, Builtin] = {
    "to_upper": to_upper,
    "to_lower": to_lower,
    "make_upper": make_upper,
    "make_lower": make_lower,
    "trim": trim,
    "replace": replace,
    "pad": pad,
    "crop": crop,
    "append": append,
    "sub_string": sub_string,
    "split": split,
    "starts_with": starts_with,
    "ends_with": ends_with,
    "chars": chars,
}
# `clear`, `truncate` and `index_of` also apply to arrays; builtins.py dispatches them by type.
STRING_OVERLOADS: dict[str, Builtin] = {
    "clear": clear_string,
    "truncate": truncate_string,
    "index_of": string_index_of,
}
