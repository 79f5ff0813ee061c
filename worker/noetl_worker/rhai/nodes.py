"""The syntax tree: frozen dataclasses, one per construct of the supported subset.

Every node carries the 1-based ``line``/``col`` of the token that starts it (for binary operators, the
operator itself), which is where runtime errors are reported. Statements and expressions share one
hierarchy because Rhai lets statements appear where expressions are expected ("statement expressions").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "ArrayLit",
    "Assign",
    "Binary",
    "Block",
    "Break",
    "Call",
    "ClosureExpr",
    "Constant",
    "Continue",
    "DoLoop",
    "FnDef",
    "For",
    "If",
    "Index",
    "Interp",
    "Let",
    "Literal",
    "Logical",
    "Loop",
    "MapLit",
    "MethodCall",
    "Node",
    "Program",
    "Prop",
    "Return",
    "Switch",
    "SwitchArm",
    "This",
    "Throw",
    "Try",
    "Unary",
    "Var",
    "While",
]  # fmt: skip

#: A literal's value as written in the source (unit is ``None``).
Constant: TypeAlias = "int | float | str | bool | None"


@dataclass(frozen=True, slots=True)
class Node:
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Constant


@dataclass(frozen=True, slots=True)
class Interp(Node):
    """A back-tick string with ``${...}`` parts; each part is converted with ``to_string``."""

    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    keys: tuple[str, ...]
    values: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Var(Node):
    name: str


@dataclass(frozen=True, slots=True)
class This(Node):
    pass


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "-", "+", "!"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """A left-associative chain ``first op1 r1 op2 r2 ...`` of one precedence level.

    Chains are kept flat (rather than nested pairs) so that a long ``a + b + c + ...`` does not turn
    into deep recursion in the evaluator. ``positions`` holds each operator's (line, col).
    """

    first: Node
    ops: tuple[str, ...]
    rights: tuple[Node, ...]
    positions: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Logical(Node):
    """Short-circuit ``&&``, ``||`` and ``??`` (kept apart from :class:`Binary` because the right side
    is evaluated lazily)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Index(Node):
    target: Node
    index: Node
    safe: bool  # `?[`: unit target gives unit instead of an error


@dataclass(frozen=True, slots=True)
class Prop(Node):
    target: Node
    name: str
    safe: bool  # `?.`


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MethodCall(Node):
    target: Node
    name: str
    args: tuple[Node, ...]
    safe: bool


@dataclass(frozen=True, slots=True)
class ClosureExpr(Node):
    """``|a, b| body``. ``captures`` lists every name the body mentions; those that exist in scope when
    the closure is created are copied into it (capture by value)."""

    params: tuple[str, ...]
    body: Node
    captures: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Block(Node):
    stmts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class If(Node):
    """``if c1 {..} else if c2 {..} else {..}`` flattened into ordered branches."""

    branches: tuple[tuple[Node, Block], ...]
    otherwise: Block | None


@dataclass(frozen=True, slots=True)
class SwitchArm(Node):
    #: Literal values and ``(start, end, inclusive)`` integer ranges this arm matches.
    patterns: tuple[Constant | tuple[int, int, bool], ...]
    condition: Node | None
    body: Node


@dataclass(frozen=True, slots=True)
class Switch(Node):
    subject: Node
    arms: tuple[SwitchArm, ...]
    default: Node | None


@dataclass(frozen=True, slots=True)
class While(Node):
    condition: Node
    body: Block


@dataclass(frozen=True, slots=True)
class DoLoop(Node):
    """``do {..} while cond`` (``until`` false) or ``do {..} until cond`` (``until`` true)."""

    body: Block
    condition: Node
    until: bool


@dataclass(frozen=True, slots=True)
class Loop(Node):
    body: Block


@dataclass(frozen=True, slots=True)
class For(Node):
    var: str
    index_var: str | None
    iterable: Node
    body: Block


@dataclass(frozen=True, slots=True)
class Let(Node):
    name: str
    value: Node | None
    const: bool


@dataclass(frozen=True, slots=True)
class Assign(Node):
    target: Node  # Var, This, Index or Prop
    op: str | None  # None for "=", else the arithmetic operator of "+=" etc.
    value: Node


@dataclass(frozen=True, slots=True)
class Break(Node):
    value: Node | None


@dataclass(frozen=True, slots=True)
class Continue(Node):
    pass


@dataclass(frozen=True, slots=True)
class Return(Node):
    value: Node | None


@dataclass(frozen=True, slots=True)
class Throw(Node):
    value: Node | None  # None inside `catch`: re-throw the caught value


@dataclass(frozen=True, slots=True)
class Try(Node):
    body: Block
    err_name: str | None
    handler: Block


@dataclass(frozen=True, slots=True)
class FnDef(Node):
    name: str
    params: tuple[str, ...]
    body: Block


@dataclass(frozen=True, slots=True)
class Program(Node):
    stmts: tuple[Node, ...]
    functions: tuple[FnDef, ...]
