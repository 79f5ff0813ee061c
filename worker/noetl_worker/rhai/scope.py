"""The variable stack.

Rhai scoping is a stack: ``let`` pushes (shadowing earlier names), leaving a block pops back to the
size it had on entry. A per-name index of stack positions keeps lookups O(1) however many context
variables the worker pushed before the script's own locals.
"""

from __future__ import annotations

from .values import Value

__all__ = ["Scope"]


class Scope:
    __slots__ = ("consts", "names", "values", "where")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.values: list[Value] = []
        self.consts: list[bool] = []
        self.where: dict[str, list[int]] = {}

    def push(self, name: str, value: Value, const: bool = False) -> None:
        stack = self.where.get(name)
        if stack is None:
            self.where[name] = [len(self.names)]
        else:
            stack.append(len(self.names))
        self.names.append(name)
        self.values.append(value)
        self.consts.append(const)

    def find(self, name: str) -> int:
        """Stack position of the innermost ``name``, or -1."""
        stack = self.where.get(name)
        return stack[-1] if stack else -1

    def truncate(self, size: int) -> None:
        """Drop every variable pushed after the stack had ``size`` entries."""
        names, where = self.names, self.where
        while len(names) > size:
            name = names.pop()
            stack = where[name]
            stack.pop()
            if not stack:
                del where[name]
        del self.values[size:]
        del self.consts[size:]
