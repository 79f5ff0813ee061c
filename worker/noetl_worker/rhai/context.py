"""The narrow interface built-in functions get from the evaluator.

Built-ins never see the evaluator itself: only this protocol, which lets them call script functions
(for ``map``/``filter``/``reduce``...), copy values with operation accounting, enforce size limits,
emit log lines, and sleep within the wall-clock budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .limits import RhaiLimits
from .operators import OpError
from .values import RhaiFn, Value, type_name

__all__ = ["Builtin", "BuiltinContext", "LimitBreach", "signature_error"]


class LimitBreach(Exception):
    """A size limit was exceeded inside a built-in; the evaluator adds the position."""


class BuiltinContext(Protocol):
    limits: RhaiLimits

    def call(self, fn: RhaiFn, args: list[Value]) -> Value:
        """Call a function pointer or closure with these arguments."""
        ...

    def own(self, value: Value) -> Value:
        """A private copy of ``value`` to store inside another container (value semantics)."""
        ...

    def keep(self, value: Value) -> Value:
        """Like :meth:`own`, for a value that is stored *into a container*: large strings are also
        charged as operations, because containers are where retained data accumulates."""
        ...

    def checked(self, value: Value) -> Value:
        """``value`` after checking it against the string/array/map size limits."""
        ...

    def emit(self, level: str, text: str) -> None:
        """Record one output line (``print``, ``debug``, ``log``...)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``, bounded by the run's wall-clock limit."""
        ...


Builtin = Callable[[BuiltinContext, list[Value]], Value]


def signature_error(name: str, args: list[Value]) -> Exception:
    """The error for a call that matches no overload, in Rhai's wording."""
    return OpError(f"function not found: {name}({', '.join(type_name(a) for a in args)})")
