"""Array and object-map built-ins: ``push``, ``pop``, ``keys``, ``values``, ``map``, ``filter``...

Arrays and maps are mutated in place (the evaluator hands over the stored object for method calls), and
every value stored into a container is copied first (``ctx.own``) so that containers never alias.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cmp_to_key

from .context import Builtin, BuiltinContext, signature_error
from .errors import RhaiRuntimeError
from .operators import OpError
from .values import RhaiFn, Value, rhai_equal, type_name

__all__ = ["ARRAY_FUNCTIONS", "ARRAY_MUTATORS", "MAP_FUNCTIONS", "MAP_MUTATORS", "index_in"]

ARRAY_MUTATORS = frozenset(
    {"push", "pop", "shift", "insert", "remove", "clear", "truncate", "reverse", "sort", "append", "retain"}
)
MAP_MUTATORS = frozenset({"remove", "clear", "set", "mixin", "fill_with"})


def _a(name: str, args: list[Value], count: int | tuple[int, ...]) -> list[Value]:
    counts = (count,) if isinstance(count, int) else count
    if len(args) not in counts or type(args[0]) is not list:
        raise signature_error(name, args)
    value = args[0]
    assert isinstance(value, list)
    return value


def _m(name: str, args: list[Value], count: int) -> dict[str, Value]:
    if len(args) != count or type(args[0]) is not dict:
        raise signature_error(name, args)
    value = args[0]
    assert isinstance(value, dict)
    return value


def _fn(name: str, args: list[Value], i: int) -> RhaiFn:
    value = args[i]
    if type(value) is not RhaiFn:
        raise signature_error(name, args)
    assert isinstance(value, RhaiFn)
    return value


def index_in(index: int, length: int) -> int | None:
    """Resolve a Rhai index (negative counts from the end) to a Python one, or None if out of range."""
    if index < 0:
        index += length
    return index if 0 <= index < length else None


def _call_item(ctx: BuiltinContext, fn: RhaiFn, item: Value, i: int) -> Value:
    # Callbacks may take the element alone or the element and its index.
    if fn.body is not None and len(fn.params) == 2:
        return ctx.call(fn, [ctx.own(item), i])
    return ctx.call(fn, [ctx.own(item)])


def _truthy(name: str, value: Value) -> bool:
    if type(value) is not bool:
        raise OpError(f"the '{name}' callback must return a bool, got {type_name(value)}")
    return bool(value)


def push(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("push", args, 2)
    array.append(ctx.keep(args[1]))
    ctx.checked(array)
    return None


def append(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("append", args, 2)
    other = args[1]
    if type(other) is list:
        assert isinstance(other, list)
        array.extend(ctx.keep(other))  # type: ignore[arg-type]
    else:
        array.append(ctx.keep(other))
    ctx.checked(array)
    return None


def pop(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("pop", args, 1)
    return array.pop() if array else None


def shift(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("shift", args, 1)
    return array.pop(0) if array else None


def insert(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("insert", args, 3)
    at = args[1]
    if type(at) is not int:
        raise signature_error("insert", args)
    assert isinstance(at, int)
    if at < 0:
        at = max(0, len(array) + at)
    array.insert(min(at, len(array)), ctx.keep(args[2]))
    ctx.checked(array)
    return None


def remove(ctx: BuiltinContext, args: list[Value]) -> Value:
    if args and type(args[0]) is dict:
        mapping = _m("remove", args, 2)
        key = args[1]
        if type(key) is not str:
            raise signature_error("remove", args)
        assert isinstance(key, str)
        return mapping.pop(key, None)
    array = _a("remove", args, 2)
    at = args[1]
    if type(at) is not int:
        raise signature_error("remove", args)
    assert isinstance(at, int)
    resolved = index_in(at, len(array))
    return None if resolved is None else array.pop(resolved)


def clear_array(ctx: BuiltinContext, args: list[Value]) -> Value:
    _a("clear", args, 1).clear()
    return None


def truncate_array(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("truncate", args, 2)
    keep = args[1]
    if type(keep) is not int:
        raise signature_error("truncate", args)
    assert isinstance(keep, int)
    del array[max(0, keep) :]
    return None


def reverse(ctx: BuiltinContext, args: list[Value]) -> Value:
    _a("reverse", args, 1).reverse()
    return None


_SORTABLE = (int, float, str, bool)


def _sort_natural(array: list[Value]) -> None:
    """``sort()`` without a comparer, as Rhai does it: every element of one type (integers, floats,
    strings, booleans; units stay as they are), anything else is an error."""
    if len(array) <= 1:
        return
    first = type(array[0])
    if any(type(item) is not first for item in array):
        raise OpError("function not found: elements of different types cannot be sorted")
    if first is type(None):
        return
    if first not in _SORTABLE:
        raise OpError(f"function not found: elements of {type_name(array[0])} cannot be sorted")
    array.sort()


def sort(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("sort", args, (1, 2))
    if len(args) == 1:
        _sort_natural(array)
        return None
    fn = _fn("sort", args, 1)

    def order(a: Value, b: Value) -> int:
        # Rhai's comparer contract: an integer's sign, or a boolean (true = a first); a comparer that
        # fails or returns anything else counts as "equal" (limit breaches still stop the script).
        try:
            result = ctx.call(fn, [a, b])
        except RhaiRuntimeError:
            return 0
        if type(result) is bool:
            return -1 if result else 1
        return (result > 0) - (result < 0) if type(result) is int else 0

    if len(array) <= _RUST_SMALL_SORT:
        _insertion_sort(array, order)
    else:
        array.sort(key=cmp_to_key(order))
    return None


# Rust's stable sort (which Rhai's `sort` uses) sorts up to 20 elements by insertion; doing the same
# here gives the same order even when a comparer is inconsistent (fails, or mixes types), where
# different algorithms legitimately disagree. Longer arrays use Python's sort (docs/rhai.md).
_RUST_SMALL_SORT = 20


def _insertion_sort(array: list[Value], order: Callable[[Value, Value], int]) -> None:
    for i in range(1, len(array)):
        item = array[i]
        j = i
        while j > 0 and order(item, array[j - 1]) < 0:
            array[j] = array[j - 1]
            j -= 1
        array[j] = item


def array_map(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("map", args, 2)
    fn = _fn("map", args, 1)
    return [ctx.keep(_call_item(ctx, fn, item, i)) for i, item in enumerate(list(array))]


def array_filter(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("filter", args, 2)
    fn = _fn("filter", args, 1)
    return [ctx.own(item) for i, item in enumerate(list(array)) if _truthy("filter", _call_item(ctx, fn, item, i))]


def retain(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("retain", args, 2)
    fn = _fn("retain", args, 1)
    kept = [item for i, item in enumerate(list(array)) if _truthy("retain", _call_item(ctx, fn, item, i))]
    removed = [item for item in array if not any(item is k for k in kept)]
    array[:] = kept
    return removed


def reduce(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("reduce", args, (2, 3))
    fn = _fn("reduce", args, 1)
    acc: Value = ctx.own(args[2]) if len(args) == 3 else None
    for i, item in enumerate(list(array)):
        call_args = [acc, ctx.own(item)]
        if fn.body is not None and len(fn.params) == 3:
            call_args.append(i)
        acc = ctx.call(fn, call_args)
    return acc


def some(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("some", args, 2)
    fn = _fn("some", args, 1)
    return any(_truthy("some", _call_item(ctx, fn, item, i)) for i, item in enumerate(list(array)))


def all_(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("all", args, 2)
    fn = _fn("all", args, 1)
    return all(_truthy("all", _call_item(ctx, fn, item, i)) for i, item in enumerate(list(array)))


def find(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("find", args, 2)
    fn = _fn("find", args, 1)
    for i, item in enumerate(list(array)):
        if _truthy("find", _call_item(ctx, fn, item, i)):
            return ctx.own(item)
    return None


def array_index_of(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("index_of", args, 2)
    target = args[1]
    for i, item in enumerate(list(array)):
        if type(target) is RhaiFn:
            assert isinstance(target, RhaiFn)
            if _truthy("index_of", _call_item(ctx, target, item, i)):
                return i
        elif rhai_equal(item, target):
            return i
    return -1


def extract(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("extract", args, (2, 3))
    start = args[1]
    if type(start) is not int:
        raise signature_error("extract", args)
    assert isinstance(start, int)
    if start < 0:
        start = max(0, len(array) + start)
    if len(args) == 3:
        count = args[2]
        if type(count) is not int:
            raise signature_error("extract", args)
        assert isinstance(count, int)
        return ctx.own(array[start : start + max(0, count)])
    return ctx.own(array[start:])


def dedup(ctx: BuiltinContext, args: list[Value]) -> Value:
    array = _a("dedup", args, 1)
    out: list[Value] = []
    for item in array:
        if not out or not rhai_equal(out[-1], item):
            out.append(item)
    array[:] = out
    return None


def keys(ctx: BuiltinContext, args: list[Value]) -> Value:
    return sorted(_m("keys", args, 1))  # type: ignore[return-value]


def values(ctx: BuiltinContext, args: list[Value]) -> Value:
    mapping = _m("values", args, 1)
    return [ctx.own(mapping[k]) for k in sorted(mapping)]


def map_get(ctx: BuiltinContext, args: list[Value]) -> Value:
    if args and type(args[0]) is list:
        array = _a("get", args, 2)
        at = args[1]
        if type(at) is not int:
            raise signature_error("get", args)
        assert isinstance(at, int)
        # Unlike `a[i]`, Rhai's `get` clamps a negative index beyond the start to the first element.
        resolved = max(0, len(array) + at) if at < 0 else at
        return ctx.own(array[resolved]) if resolved < len(array) else None
    mapping = _m("get", args, 2)
    key = args[1]
    if type(key) is not str:
        raise signature_error("get", args)
    assert isinstance(key, str)
    return ctx.own(mapping.get(key))


def map_set(ctx: BuiltinContext, args: list[Value]) -> Value:
    mapping = _m("set", args, 3)
    key = args[1]
    if type(key) is not str:
        raise signature_error("set", args)
    assert isinstance(key, str)
    mapping[ctx.keep(key)] = ctx.keep(args[2])  # type: ignore[index]
    ctx.checked(mapping)
    return None


def _merge(name: str, ctx: BuiltinContext, args: list[Value], overwrite: bool) -> Value:
    mapping = _m(name, args, 2)
    other = args[1]
    if not isinstance(other, dict):
        raise signature_error(name, args)
    for key, item in other.items():
        if overwrite or key not in mapping:
            mapping[key] = ctx.keep(item)
    ctx.checked(mapping)
    return None


def mixin(ctx: BuiltinContext, args: list[Value]) -> Value:
    """Copy every property of the second map into the first (overwriting)."""
    return _merge("mixin", ctx, args, overwrite=True)


def fill_with(ctx: BuiltinContext, args: list[Value]) -> Value:
    """Copy only the properties the first map does not have yet."""
    return _merge("fill_with", ctx, args, overwrite=False)


def clear_map(ctx: BuiltinContext, args: list[Value]) -> Value:
    _m("clear", args, 1).clear()
    return None


ARRAY_FUNCTIONS: dict[str, Builtin] = {
    "push": push,
    "append": append,
    "pop": pop,
    "shift": shift,
    "insert": insert,
    "reverse": reverse,
    "sort": sort,
    "map": array_map,
    "filter": array_filter,
    "retain": retain,
    "reduce": reduce,
    "some": some,
    "all": all_,
    "find": find,
    "extract": extract,
    "dedup": dedup,
}
MAP_FUNCTIONS: dict[str, Builtin] = {
    "keys": keys,
    "values": values,
    "set": map_set,
    "mixin": mixin,
    "fill_with": fill_with,
}
# Names shared with strings/maps; builtins.py dispatches these by the type of the first argument.
ARRAY_OVERLOADS: dict[str, Builtin] = {
    "remove": remove,
    "clear": clear_array,
    "truncate": truncate_array,
    "index_of": array_index_of,
    "get": map_get,
}
MAP_OVERLOADS: dict[str, Builtin] = {"clear": clear_map, "remove": remove, "get": map_get}
