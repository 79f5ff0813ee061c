"""Tree-walking evaluator for the parsed subset.

Design notes:

* Dispatch is a dict from node class to bound method (no ``isinstance`` ladders on the hot path).
* Value semantics: containers are copied (:func:`copy_value`) wherever they are stored — ``let``,
  assignment, arguments, array/map literal elements, closure captures — so two variables never share
  one list. Method calls get the stored object itself, which is how ``a.push(x)`` mutates ``a``.
* Accounting: every statement, loop iteration, call and copied element costs one operation. The op
  counter is compared against one precomputed threshold; crossing it triggers the slower check of the
  operation limit, the wall clock and cancellation (every :data:`_CHECK_EVERY` operations).
* ``break``/``continue``/``return`` are Python exceptions private to this module; only
  :class:`RhaiRuntimeError` is visible to a script's ``try``/``catch``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from . import nodes as n
from .builtins import BUILTINS, DISABLED_HOST_FUNCTIONS, MUTATORS, STRING_MUTATORS
from .builtins_collections import index_in
from .context import LimitBreach
from .errors import RhaiLimitError, RhaiRuntimeError, caught_error_map
from .limits import RhaiLimits
from .operators import OpError, binary, check_int, unary
from .scope import Scope
from .values import RhaiFn, RhaiRange, Value, copy_value, to_display, type_name

__all__ = ["Evaluator"]

_CHECK_EVERY = 256
# Strings stored into containers cost one operation per 16 characters (beyond the first 64), so that the
# operation limit also bounds how much text a script can accumulate in arrays and maps.
_FREE_STRING_SIZE = 64
_CHARS_PER_OPERATION = 16
_NO_THIS: Any = object()
_INT_FAST: dict[str, Callable[[int, int], Value]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "+": lambda a, b: check_int(a + b, "+", a, b),
    "-": lambda a, b: check_int(a - b, "-", a, b),
}


class _Break(Exception):
    def __init__(self, value: Value) -> None:
        self.value = value


class _Continue(Exception):
    pass


class _Return(Exception):
    def __init__(self, value: Value) -> None:
        self.value = value


def _fail(reason: str, node: n.Node) -> NoReturn:
    raise RhaiRuntimeError(reason, node.line, node.col)


class Evaluator:
    """Runs one program. Not reusable across runs (it owns the run's counters and output)."""

    def __init__(
        self,
        program: n.Program,
        limits: RhaiLimits,
        emit: Callable[[str, str], None],
        deadline: float,
        cancel: threading.Event | None = None,
    ) -> None:
        self.program = program
        self.limits = limits
        self._emit = emit
        self.deadline = deadline
        self.cancel = cancel
        self.fns: dict[tuple[str, int], n.FnDef] = {(f.name, len(f.params)): f for f in program.functions}
        self.fn_arities: dict[str, list[int]] = {}
        for f in program.functions:
            self.fn_arities.setdefault(f.name, []).append(len(f.params))
        self.scope = Scope()
        self.this: Value = _NO_THIS
        self.ops = 0
        self.max_ops = limits.max_operations
        self.next_check = min(_CHECK_EVERY, self.max_ops + 1)
        self.call_depth = 0
        self.current: n.Node = program
        self.caught: list[Value] = []
        self._continue = _Continue()
        self.dispatch: dict[type[n.Node], Callable[[Any], Value]] = {
            n.Literal: self._literal,
            n.Interp: self._interp,
            n.ArrayLit: self._array,
            n.MapLit: self._map,
            n.Var: self._var,
            n.This: self._this,
            n.Unary: self._unary,
            n.Binary: self._binary,
            n.Logical: self._logical,
            n.Index: self._index,
            n.Prop: self._prop,
            n.Call: self._call,
            n.MethodCall: self._method,
            n.ClosureExpr: self._closure,
            n.Block: self._block,
            n.If: self._if,
            n.Switch: self._switch,
            n.While: self._while,
            n.DoLoop: self._do,
            n.Loop: self._loop,
            n.For: self._for,
            n.Let: self._let,
            n.Assign: self._assign,
            n.Break: self._break,
            n.Continue: self._continue_stmt,
            n.Return: self._return,
            n.Throw: self._throw,
            n.Try: self._try,
        }

    # ---- entry point and accounting ------------------------------------------------------------------
    def run(self, variables: Iterable[tuple[str, Value]]) -> Value:
        for name, value in variables:
            self.scope.push(name, value)
        try:
            return self._statements(self.program.stmts)
        except _Return as ret:
            return ret.value

    def _slow_check(self, node: n.Node | None) -> None:
        """Called when the op counter crosses its threshold: enforce op/time limits and cancellation."""
        where = node or self.current
        if self.ops > self.max_ops:
            raise RhaiLimitError(f"too many operations: the limit is {self.max_ops}", where.line, where.col)
        if time.monotonic() > self.deadline:
            raise RhaiLimitError(
                f"script exceeded the wall-clock limit of {self.limits.max_wall_time:g} s", where.line, where.col
            )
        if self.cancel is not None and self.cancel.is_set():
            raise RhaiLimitError("script cancelled", where.line, where.col)
        self.next_check = min(self.ops + _CHECK_EVERY, self.max_ops + 1)

    def charge(self, count: int) -> None:
        self.ops += count
        if self.ops >= self.next_check:
            self._slow_check(None)

    def _eval(self, node: n.Node) -> Value:
        return self.dispatch[node.__class__](node)

    # ---- BuiltinContext protocol ---------------------------------------------------------------------
    def own(self, value: Value) -> Value:
        if type(value) is list or type(value) is dict:
            try:
                return copy_value(value, self.charge, self.limits.max_data_depth)
            except ValueError as exc:
                raise LimitBreach(str(exc)) from None
        return value

    def keep(self, value: Value) -> Value:
        if isinstance(value, str):
            size = len(value)
            if size > _FREE_STRING_SIZE:
                self.charge(size // _CHARS_PER_OPERATION)
            return value
        return self.own(value)

    def checked(self, value: Value) -> Value:
        t = type(value)
        limits = self.limits
        if t is str:
            if len(value) > limits.max_string_size:  # type: ignore[arg-type]
                raise LimitBreach(f"string length exceeds the limit of {limits.max_string_size}")
        elif t is list:
            if len(value) > limits.max_array_size:  # type: ignore[arg-type]
                raise LimitBreach(f"array length exceeds the limit of {limits.max_array_size}")
        elif t is dict and len(value) > limits.max_map_size:  # type: ignore[arg-type]
            raise LimitBreach(f"object map size exceeds the limit of {limits.max_map_size}")
        return value

    def emit(self, level: str, text: str) -> None:
        self._emit(level, text)

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now > self.deadline:
                self._slow_check(None)
            if now >= end:
                return
            wait = min(end, self.deadline + 0.001) - now
            if self.cancel is not None:
                self.cancel.wait(min(wait, 0.25))
                if self.cancel.is_set():
                    self._slow_check(None)
            else:
                time.sleep(min(wait, 0.25))

    def call(self, fn: RhaiFn, args: list[Value]) -> Value:
        return self._call_pointer(fn, args, self.current)

    # ---- helpers -------------------------------------------------------------------------------------
    def _guard(self, node: n.Node, value: Value) -> Value:
        """Size-check a value produced at ``node``."""
        try:
            return self.checked(value)
        except LimitBreach as exc:
            raise RhaiLimitError(str(exc), node.line, node.col) from None

    def _own_at(self, node: n.Node, value: Value) -> Value:
        if type(value) is list or type(value) is dict:
            try:
                return self.own(value)
            except LimitBreach as exc:
                raise RhaiLimitError(str(exc), node.line, node.col) from None
        return value

    def _keep_at(self, node: n.Node, value: Value) -> Value:
        """:meth:`keep` with errors reported at ``node``."""
        t = type(value)
        if t is list or t is dict or (t is str and len(value) > _FREE_STRING_SIZE):  # type: ignore[arg-type]
            self.current = node
            try:
                return self.keep(value)
            except LimitBreach as exc:
                raise RhaiLimitError(str(exc), node.line, node.col) from None
        return value

    def _run_builtin(self, name: str, args: list[Value], node: n.Node) -> Value:
        builtin = BUILTINS[name]
        saved, self.current = self.current, node
        try:
            return builtin(self, args)
        except OpError as exc:
            raise RhaiRuntimeError(str(exc), node.line, node.col) from None
        except LimitBreach as exc:
            raise RhaiLimitError(str(exc), node.line, node.col) from None
        finally:
            self.current = saved

    def _root_const(self, node: n.Node) -> str | None:
        """The constant variable a place expression modifies, if any."""
        while isinstance(node, n.Index | n.Prop):
            node = node.target
        if isinstance(node, n.Var):
            idx = self.scope.find(node.name)
            if idx >= 0 and self.scope.consts[idx]:
                return node.name
        return None

    def _check_mutable(self, node: n.Node, at: n.Node) -> None:
        name = self._root_const(node)
        if name is not None:
            _fail(f"cannot modify constant '{name}'", at)

    @staticmethod
    def _is_place(node: n.Node) -> bool:
        while isinstance(node, n.Index | n.Prop):
            if node.safe:
                return False
            node = node.target
        return isinstance(node, n.Var | n.This)

    def _bool(self, value: Value, what: str, node: n.Node) -> bool:
        if type(value) is not bool:
            _fail(f"{what} must be a bool, got {type_name(value)}", node)
        return bool(value)

    # ---- blocks and statements -----------------------------------------------------------------------
    def _statements(self, stmts: tuple[n.Node, ...]) -> Value:
        result: Value = None
        dispatch = self.dispatch
        for stmt in stmts:
            self.ops += 1
            if self.ops >= self.next_check:
                self._slow_check(stmt)
            self.current = stmt
            result = dispatch[stmt.__class__](stmt)
        return result

    def _block(self, node: n.Block) -> Value:
        scope = self.scope
        mark = len(scope.names)
        result: Value = None
        dispatch = self.dispatch
        try:
            for stmt in node.stmts:
                self.ops += 1
                if self.ops >= self.next_check:
                    self._slow_check(stmt)
                self.current = stmt
                result = dispatch[stmt.__class__](stmt)
        finally:
            if len(scope.names) > mark:
                scope.truncate(mark)
        return result

    def _let(self, node: n.Let) -> Value:
        value = None if node.value is None else self._own_at(node, self._eval(node.value))
        self.scope.push(node.name, value, node.const)
        return None

    def _assign(self, node: n.Assign) -> Value:
        if node.op is None:
            self._store(node.target, self._own_at(node, self._eval(node.value)), node)
            return None
        current = self._eval(node.target)
        rhs = self._eval(node.value)
        tc = type(current)
        if node.op == "+" and (tc is list or (tc is dict and type(rhs) is dict)):
            # In-place append/merge: `acc += [x]` in a loop must stay linear, not copy acc each time.
            self._check_mutable(node.target, node)
            if tc is list:
                assert isinstance(current, list)
                if type(rhs) is list:
                    current.extend(self._keep_at(node, rhs))  # type: ignore[arg-type]
                else:
                    current.append(self._keep_at(node, rhs))
            else:
                assert isinstance(current, dict)
                assert isinstance(rhs, dict)
                for key, item in rhs.items():
                    current[key] = self._keep_at(node, item)
            self._guard(node, current)
            return None
        try:
            value = binary(node.op, current, rhs)
        except OpError as exc:
            raise RhaiRuntimeError(str(exc), node.line, node.col) from None
        self._store(node.target, self._guard(node, value), node)
        return None

    def _store(self, target: n.Node, value: Value, at: n.Node) -> None:
        """Write ``value`` (already owned) to a place expression."""
        if isinstance(target, n.Var):
            scope = self.scope
            idx = scope.find(target.name)
            if idx < 0:
                _fail(f"variable '{target.name}' not found", target)
            if scope.consts[idx]:
                _fail(f"cannot assign to constant '{target.name}'", at)
            scope.values[idx] = value
        elif isinstance(target, n.This):
            if self.this is _NO_THIS:
                _fail("'this' is not bound (only methods have 'this')", target)
            self.this = value
        elif isinstance(target, n.Index):
            self._check_mutable(target, at)
            container = self._eval(target.target)
            index = self._eval(target.index)
            if type(container) is not str and type(value) is str:
                self._keep_at(at, value)  # text stored into a container is charged
            if type(container) is dict and type(index) is str:
                self._keep_at(at, index)  # ... and so are new keys
            self._store_index(target, container, index, value)
        elif isinstance(target, n.Prop):
            self._check_mutable(target, at)
            container = self._eval(target.target)
            if type(container) is not dict:
                _fail(f"cannot set property '{target.name}' on {type_name(container)}", target)
            assert isinstance(container, dict)
            if type(value) is str:
                self._keep_at(at, value)
            container[target.name] = value
            self._guard(target, container)
        else:  # pragma: no cover - the parser only builds assignments to the node types above
            _fail("cannot assign to this expression", at)

    def _store_index(self, target: n.Index, container: Value, index: Value, value: Value) -> None:
        tc = type(container)
        if tc is list:
            assert isinstance(container, list)
            pos = self._array_pos(target, container, index)
            container[pos] = value
        elif tc is dict:
            if type(index) is not str:
                _fail(f"object map keys must be strings, got {type_name(index)}", target)
            assert isinstance(container, dict)
            assert isinstance(index, str)
            container[index] = value
            self._guard(target, container)
        elif tc is str:
            assert isinstance(container, str)
            if not isinstance(value, str) or len(value) != 1:
                _fail(f"only a character can be stored into a string, got {type_name(value)}", target)
            pos = self._string_pos(target, container, index)
            self._store(target.target, container[:pos] + str(value) + container[pos + 1 :], target)
        else:
            _fail(f"cannot index into {type_name(container)}", target)

    def _array_pos(self, node: n.Node, array: list[Value], index: Value) -> int:
        if type(index) is not int:
            _fail(f"array index must be an integer, got {type_name(index)}", node)
        assert isinstance(index, int)
        pos = index_in(index, len(array))
        if pos is None:
            _fail(f"array index {index} out of bounds for array of length {len(array)}", node)
        return pos

    def _string_pos(self, node: n.Node, text: str, index: Value) -> int:
        if type(index) is not int:
            _fail(f"string index must be an integer, got {type_name(index)}", node)
        assert isinstance(index, int)
        pos = index_in(index, len(text))
        if pos is None:
            _fail(f"string index {index} out of bounds for string of length {len(text)}", node)
        return pos

    def _break(self, node: n.Break) -> Value:
        raise _Break(None if node.value is None else self._eval(node.value))

    def _continue_stmt(self, node: n.Continue) -> Value:
        raise self._continue.with_traceback(None)  # reused: drop the previous raise's traceback

    def _return(self, node: n.Return) -> Value:
        raise _Return(None if node.value is None else self._eval(node.value))

    def _throw(self, node: n.Throw) -> Value:
        value = (self.caught[-1] if self.caught else None) if node.value is None else self._eval(node.value)
        raise RhaiRuntimeError(f"runtime error: {to_display(value)}", node.line, node.col, thrown=True, value=value)

    def _try(self, node: n.Try) -> Value:
        # `try`/`catch` is a statement in Rhai: whichever block runs, its value is unit.
        try:
            self._block(node.body)
            return None
        except RhaiRuntimeError as err:
            value: Value = err.value if err.thrown else caught_error_map(err)  # type: ignore[assignment]
        scope = self.scope
        mark = len(scope.names)
        self.caught.append(value)
        try:
            if node.err_name is not None:
                scope.push(node.err_name, value)
            self._block(node.handler)
            return None
        finally:
            self.caught.pop()
            scope.truncate(mark)

    # ---- control flow --------------------------------------------------------------------------------
    def _if(self, node: n.If) -> Value:
        for cond, block in node.branches:
            if self._bool(self._eval(cond), "the 'if' condition", cond):
                return self._block(block)
        return None if node.otherwise is None else self._block(node.otherwise)

    def _switch(self, node: n.Switch) -> Value:
        value = self._eval(node.subject)
        tv = type(value)
        for arm in node.arms:
            for pattern in arm.patterns:
                if type(pattern) is tuple:
                    start, end, inclusive = pattern
                    hit = tv is int and start <= value < (end + 1 if inclusive else end)  # type: ignore[operator]
                else:
                    # Switch matches by value *and* type (Rhai hashes the value): 1 does not match 1.0.
                    hit = tv is type(pattern) and value == pattern
                if hit and (
                    arm.condition is None
                    or self._bool(self._eval(arm.condition), "a 'switch' case condition", arm.condition)
                ):
                    return self._eval(arm.body)
        return None if node.default is None else self._eval(node.default)

    def _loop_body(self, body: n.Block) -> tuple[bool, Value]:
        """Run one iteration; returns (stop, break value)."""
        try:
            self._block(body)
        except _Continue:
            return False, None
        except _Break as brk:
            return True, brk.value
        return False, None

    def _while(self, node: n.While) -> Value:
        while True:
            self.ops += 1
            if self.ops >= self.next_check:
                self._slow_check(node)
            if not self._bool(self._eval(node.condition), "the 'while' condition", node.condition):
                return None
            stop, value = self._loop_body(node.body)
            if stop:
                return value

    def _do(self, node: n.DoLoop) -> Value:
        while True:
            self.ops += 1
            if self.ops >= self.next_check:
                self._slow_check(node)
            stop, value = self._loop_body(node.body)
            if stop:
                return value
            cond = self._bool(self._eval(node.condition), "the 'do' condition", node.condition)
            if cond == node.until:
                return None

    def _loop(self, node: n.Loop) -> Value:
        while True:
            self.ops += 1
            if self.ops >= self.next_check:
                self._slow_check(node)
            stop, value = self._loop_body(node.body)
            if stop:
                return value

    def _for(self, node: n.For) -> Value:
        iterable = self._eval(node.iterable)
        t = type(iterable)
        items: Iterable[Value]
        if t is list:
            items = list(iterable)  # type: ignore[arg-type]  # snapshot: the body may modify the array
        elif t is RhaiRange:
            assert isinstance(iterable, RhaiRange)
            items = range(iterable.start, iterable.stop)
        elif t is str:
            items = iterable  # type: ignore[assignment]  # characters
        elif t is dict:
            _fail("'for' cannot iterate over an object map; use .keys() or .values()", node.iterable)
        else:
            _fail(f"'for' cannot iterate over {type_name(iterable)}", node.iterable)
        scope = self.scope
        mark = len(scope.names)
        scope.push(node.var, None)
        if node.index_var is not None:
            scope.push(node.index_var, 0)
        values = scope.values
        body = node.body
        try:
            for counter, item in enumerate(items):
                self.ops += 1
                if self.ops >= self.next_check:
                    self._slow_check(node)
                values[mark] = self._own_at(node, item) if type(item) in (list, dict) else item
                if node.index_var is not None:
                    values[mark + 1] = counter
                try:
                    self._block(body)
                except _Continue:
                    continue
                except _Break as brk:
                    return brk.value
        finally:
            scope.truncate(mark)
        return None

    # ---- expressions ---------------------------------------------------------------------------------
    def _literal(self, node: n.Literal) -> Value:
        return node.value

    def _interp(self, node: n.Interp) -> Value:
        text = "".join(to_display(self._eval(part)) for part in node.parts)
        return self._guard(node, text)

    def _array(self, node: n.ArrayLit) -> Value:
        return self._guard(node, [self._keep_at(item, self._eval(item)) for item in node.items])

    def _map(self, node: n.MapLit) -> Value:
        return self._guard(
            node, {key: self._keep_at(item, self._eval(item)) for key, item in zip(node.keys, node.values, strict=True)}
        )

    def _var(self, node: n.Var) -> Value:
        stack = self.scope.where.get(node.name)
        if not stack:
            _fail(f"variable '{node.name}' not found", node)
        return self.scope.values[stack[-1]]

    def _this(self, node: n.This) -> Value:
        if self.this is _NO_THIS:
            _fail("'this' is not bound (only methods have 'this')", node)
        return self.this

    def _unary(self, node: n.Unary) -> Value:
        try:
            return unary(node.op, self._eval(node.operand))
        except OpError as exc:
            raise RhaiRuntimeError(str(exc), node.line, node.col) from None

    def _binary(self, node: n.Binary) -> Value:
        value = self._eval(node.first)
        for op, right, (line, col) in zip(node.ops, node.rights, node.positions, strict=True):
            rhs = self._eval(right)
            try:
                if type(value) is int and type(rhs) is int and op in _INT_FAST:
                    value = _INT_FAST[op](value, rhs)
                    continue
                value = binary(op, value, rhs)
            except OpError as exc:
                raise RhaiRuntimeError(str(exc), line, col) from None
            if op == "+" and type(value) in (str, list, dict):
                self._guard(right, value)
        return value

    def _logical(self, node: n.Logical) -> Value:
        left = self._eval(node.left)
        if node.op == "??":
            return self._eval(node.right) if left is None else left
        what = f"the left operand of '{node.op}'"
        if self._bool(left, what, node.left) == (node.op == "||"):
            return left
        return self._bool(self._eval(node.right), f"the right operand of '{node.op}'", node.right)

    def _index(self, node: n.Index) -> Value:
        container = self._eval(node.target)
        if container is None and node.safe:
            return None
        index = self._eval(node.index)
        tc = type(container)
        if tc is list:
            assert isinstance(container, list)
            return container[self._array_pos(node, container, index)]
        if tc is dict:
            if type(index) is not str:
                _fail(f"object map keys must be strings, got {type_name(index)}", node)
            assert isinstance(container, dict)
            assert isinstance(index, str)
            return container.get(index)
        if tc is str:
            assert isinstance(container, str)
            return container[self._string_pos(node, container, index)]
        if tc is int:
            _fail("unsupported: bit-field indexing of integers", node)
        _fail(f"cannot index into {type_name(container)}", node)

    def _prop(self, node: n.Prop) -> Value:
        container = self._eval(node.target)
        tc = type(container)
        if tc is dict:
            return container.get(node.name)  # type: ignore[union-attr]  # missing property → unit
        if container is None and node.safe:
            return None
        if node.name == "len" and tc in (str, list):
            return len(container)  # type: ignore[arg-type]
        if tc is RhaiRange and node.name in ("start", "end"):
            assert isinstance(container, RhaiRange)
            return container.start if node.name == "start" else container.end
        _fail(f"property '{node.name}' not found on {type_name(container)}", node)

    def _closure(self, node: n.ClosureExpr) -> Value:
        scope = self.scope
        captured: list[tuple[str, Value]] = []
        for name in node.captures:
            idx = scope.find(name)
            if idx >= 0:
                captured.append((name, self._own_at(node, scope.values[idx])))
        return RhaiFn("anonymous", node.params, node.body, tuple(captured))

    # ---- calls ---------------------------------------------------------------------------------------
    def _enter_call(self, node: n.Node) -> None:
        self.call_depth += 1
        if self.call_depth > self.limits.max_call_depth:
            self.call_depth -= 1
            raise RhaiLimitError(
                f"function calls nested deeper than the limit of {self.limits.max_call_depth}", node.line, node.col
            )
        self.ops += 1
        if self.ops >= self.next_check:
            self._slow_check(node)

    def _invoke(self, fn: n.FnDef, args: list[Value], node: n.Node, this: Value = _NO_THIS) -> tuple[Value, Value]:
        """Call a script function; returns (result, final value of ``this``)."""
        self._enter_call(node)
        saved_scope, saved_this = self.scope, self.this
        scope = Scope()
        for param, arg in zip(fn.params, args, strict=True):
            scope.push(param, arg)
        self.scope, self.this = scope, this
        try:
            try:
                result = self._statements(fn.body.stmts)
            except _Return as ret:
                result = ret.value
            return result, self.this
        finally:
            self.scope, self.this = saved_scope, saved_this
            self.call_depth -= 1

    def _call_pointer(self, fn: RhaiFn, args: list[Value], node: n.Node) -> Value:
        args = [*fn.curried, *args]
        if fn.body is None:
            script = self.fns.get((fn.name, len(args)))
            if script is not None:
                return self._invoke(script, args, node)[0]
            if fn.name in BUILTINS:
                return self._run_builtin(fn.name, args, node)
            raise self._not_found(fn.name, args, node)
        if len(args) != len(fn.params):
            _fail(f"the closure takes {len(fn.params)} arguments but {len(args)} were given", node)
        self._enter_call(node)
        saved_scope, saved_this = self.scope, self.this
        scope = Scope()
        for name, value in fn.captured:
            scope.push(name, self._own_at(node, value))
        for param, arg in zip(fn.params, args, strict=True):
            scope.push(param, arg)
        self.scope, self.this = scope, _NO_THIS
        try:
            try:
                return self._eval(fn.body)
            except _Return as ret:
                return ret.value
        finally:
            self.scope, self.this = saved_scope, saved_this
            self.call_depth -= 1

    def _call(self, node: n.Call) -> Value:
        name = node.name
        fn = self.fns.get((name, len(node.args)))
        if fn is not None:
            args = [self._own_at(a, self._eval(a)) for a in node.args]
            return self._invoke(fn, args, node)[0]
        # A variable holding a function pointer is not callable as `f(x)` (Rhai says "function not
        # found"): pointers are called with `f.call(x)`.
        args = [self._eval(a) for a in node.args]
        if name == "Fn":
            if len(args) != 1 or type(args[0]) is not str:
                _fail("Fn() takes one string: the name of a function", node)
            return RhaiFn(str(args[0]))
        if name in ("call", "curry") and args and isinstance(args[0], RhaiFn):
            return self._pointer_method(name, args[0], args[1:], node)
        if name in BUILTINS:
            first = node.args[0] if node.args else None
            by_ref = first is not None and isinstance(first, n.Var | n.This)
            if name in MUTATORS and first is not None:
                if by_ref:
                    self._check_mutable(first, node)
                else:
                    # A computed first argument is a temporary: mutate a copy, as Rhai does.
                    args[0] = self._own_at(node, args[0])
            result = self._run_builtin(name, args, node)
            if name in STRING_MUTATORS and args and type(args[0]) is str:
                if by_ref and first is not None:
                    self._store(first, result, node)
                return None
            return result
        raise self._not_found(name, args, node)

    def _not_found(self, name: str, args: list[Value], node: n.Node) -> RhaiRuntimeError:
        if name in DISABLED_HOST_FUNCTIONS:
            reason = f"host function `{name}` is disabled in this pool (scripts have no network access)"
        elif name in self.fn_arities:
            expected = " or ".join(str(a) for a in sorted(self.fn_arities[name]))
            reason = f"function '{name}' takes {expected} arguments but {len(args)} were given"
        else:
            reason = f"function not found: {name}({', '.join(type_name(a) for a in args)})"
        return RhaiRuntimeError(reason, node.line, node.col)

    def _pointer_method(self, name: str, fn: RhaiFn, args: list[Value], node: n.Node) -> Value:
        if name == "call":
            return self._call_pointer(fn, [self._own_at(node, a) for a in args], node)
        curried = (*fn.curried, *(self._own_at(node, a) for a in args))
        return RhaiFn(fn.name, fn.params, fn.body, fn.captured, curried)

    def _method(self, node: n.MethodCall) -> Value:
        target = self._eval(node.target)
        if target is None and node.safe:
            return None
        args = [self._eval(a) for a in node.args]
        name = node.name
        fn = self.fns.get((name, len(args)))
        if fn is not None:
            owned = [self._own_at(node, a) for a in args]
            result, new_this = self._invoke(fn, owned, node, this=target)
            if new_this is not target and self._is_place(node.target):
                self._check_mutable(node.target, node)
                self._store(node.target, new_this, node)
            return result
        if type(target) is RhaiFn and name in ("call", "curry"):
            assert isinstance(target, RhaiFn)
            return self._pointer_method(name, target, args, node)
        if name not in BUILTINS:
            raise self._not_found(name, [target, *args], node)
        place = self._is_place(node.target)
        if name in MUTATORS and place:
            self._check_mutable(node.target, node)
        result = self._run_builtin(name, [target, *args], node)
        if name in STRING_MUTATORS and type(target) is str:
            if place:
                self._store(node.target, result, node)
            return None
        return result
