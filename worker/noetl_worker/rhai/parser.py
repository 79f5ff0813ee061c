"""Recursive-descent / precedence-climbing parser for the Rhai subset.

Operator precedence and associativity follow the Rhai book's table (higher binds tighter)::

    ||  |  ^      30        in !in         110       ..  ..=      140
    &&  &         60        < <= > >=      130       +  -         150
    ==  !=        90        ??             135       *  /  %      180
                                                     **  (right)  190
                                                     <<  >>       210

Unary ``-``/``+``/``!`` bind tighter than any binary operator; ``.``/``?.``/``[]``/calls tighter still.
Nesting depth is bounded (:attr:`RhaiLimits.max_expr_depth`) so that hostile input cannot exhaust the
Python stack. Syntax outside the subset is rejected with a message naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import nodes as n
from .errors import RhaiLimitError, RhaiSyntaxError
from .lexer import Token, tokenize
from .limits import DEFAULT_LIMITS, RhaiLimits
from .values import I64_MAX

__all__ = ["parse"]

_BINARY_PRECEDENCE = {
    "||": 30, "|": 30, "^": 30,
    "&&": 60, "&": 60,
    "==": 90, "!=": 90,
    "in": 110, "!in": 110,
    "<": 130, "<=": 130, ">": 130, ">=": 130,
    "??": 135,
    "..": 140, "..=": 140,
    "+": 150, "-": 150,
    "*": 180, "/": 180, "%": 180,
    "**": 190,
    "<<": 210, ">>": 210,
}  # fmt: skip
_SHORT_CIRCUIT = frozenset({"&&", "||", "??"})
_COMPOUND_ASSIGN = {
    "+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "**=": "**",
    "<<=": "<<", ">>=": ">>", "&=": "&", "|=": "|", "^=": "^",
}  # fmt: skip
# Rhai reserves these words; using one is a syntax error that names it rather than "unknown variable".
_RESERVED = frozenset(
    {
        "var", "static", "shared", "goto", "exit", "match", "case", "public", "protected", "new",
        "use", "with", "module", "package", "super", "thread", "spawn", "go", "await", "async",
        "sync", "yield", "default", "void", "null", "nil",
    }
)  # fmt: skip
# Statements and expressions that end with a block need no terminating ';'.
_STATEMENT_KEYWORDS = ("if", "switch", "while", "loop", "do", "for")
_BLOCK_ENDED = (n.If, n.Switch, n.While, n.Loop, n.For, n.Block, n.Try, n.FnDef, n.DoLoop)


class _Parser:
    def __init__(self, tokens: Sequence[Token], limits: RhaiLimits) -> None:
        self.toks = tokens
        self.i = 0
        self.limits = limits
        self.depth = 0
        self.fn_level = 0  # >0 while inside a `fn` body or closure
        self.loop_level = 0
        self.catch_level = 0
        # One name set per enclosing closure: every variable/function name used inside it.
        self.capture_sets: list[set[str]] = []
        self.functions: list[n.FnDef] = []

    # ---- token helpers -------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else self.toks[-1]

    def advance(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at_op(self, value: str) -> bool:
        tok = self.toks[self.i]
        return tok.kind == "op" and tok.value == value

    def at_kw(self, value: str) -> bool:
        tok = self.toks[self.i]
        return tok.kind == "kw" and tok.value == value

    def error(self, reason: str, tok: Token | None = None) -> RhaiSyntaxError:
        tok = tok or self.peek()
        return RhaiSyntaxError(reason, tok.line, tok.col)

    def unexpected(self, tok: Token | None = None, expecting: str | None = None) -> RhaiSyntaxError:
        tok = tok or self.peek()
        reason = f"unexpected {tok.describe()}" if tok.kind == "eof" else f"unexpected token {tok.describe()}"
        if expecting:
            reason += f" (expecting {expecting})"
        return RhaiSyntaxError(reason, tok.line, tok.col)

    def expect_op(self, value: str) -> Token:
        if not self.at_op(value):
            raise self.unexpected(expecting=repr(value))
        return self.advance()

    def expect_ident(self, what: str) -> Token:
        tok = self.peek()
        if tok.kind == "ident":
            self.check_reserved(tok)
            return self.advance()
        if tok.kind == "kw":
            raise self.error(f"{tok.describe()} is a keyword and cannot be used as {what}", tok)
        raise self.unexpected(expecting=what)

    def check_reserved(self, tok: Token) -> None:
        if tok.value in _RESERVED:
            raise self.error(f"{tok.describe()} is a reserved keyword", tok)

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > self.limits.max_expr_depth:
            raise RhaiLimitError(
                f"expression nesting exceeds the limit of {self.limits.max_expr_depth}", tok.line, tok.col
            )

    # ---- program and statements ----------------------------------------------------------------------
    def program(self) -> n.Program:
        stmts = self.statements(top_level=True)
        tok = self.peek()
        if tok.kind != "eof":
            raise self.unexpected(tok)
        return n.Program(1, 1, tuple(stmts), tuple(self.functions))

    def statements(self, top_level: bool = False) -> list[n.Node]:
        """Statements up to a closing '}' (not consumed) or the end of input."""
        out: list[n.Node] = []
        while True:
            while self.at_op(";"):
                self.advance()
            tok = self.peek()
            if tok.kind == "eof" or (tok.kind == "op" and tok.value == "}"):
                return out
            stmt = self.statement(top_level)
            if isinstance(stmt, n.FnDef):
                self.functions.append(stmt)
            else:
                out.append(stmt)
            if self.at_op(";"):
                self.advance()
                continue
            nxt = self.peek()
            if nxt.kind == "eof" or (nxt.kind == "op" and nxt.value == "}"):
                return out
            if not isinstance(stmt, _BLOCK_ENDED):
                raise self.error(f"expecting ';' to terminate this statement, found {nxt.describe()}", nxt)

    def statement(self, top_level: bool) -> n.Node:
        tok = self.peek()
        if tok.kind == "kw":
            word = tok.value
            if word in ("let", "const"):
                return self.let_statement()
            if word == "fn" or (word == "private" and self.peek(1).kind == "kw" and self.peek(1).value == "fn"):
                if not top_level:
                    raise self.error("functions can only be defined at global level", tok)
                return self.fn_definition()
            if word == "return":
                self.advance()
                return n.Return(tok.line, tok.col, self.optional_value())
            if word == "throw":
                self.advance()
                value = self.optional_value()
                if value is None and self.catch_level == 0:
                    raise self.error("'throw' without a value is only allowed inside 'catch'", tok)
                return n.Throw(tok.line, tok.col, value)
            if word == "break":
                self.advance()
                if self.loop_level == 0:
                    raise self.error("'break' outside of a loop", tok)
                return n.Break(tok.line, tok.col, self.optional_value())
            if word == "continue":
                self.advance()
                if self.loop_level == 0:
                    raise self.error("'continue' outside of a loop", tok)
                return n.Continue(tok.line, tok.col)
            if word == "try":
                return self.try_statement()
            if word in ("import", "export"):
                raise self.error(f"unsupported syntax: '{word}' statements (modules are not available)", tok)
            if word in _STATEMENT_KEYWORDS:
                # As in Rhai, a statement that starts with a control-flow keyword ends with its block:
                # no operator, method call or index continues it (`if c {1} else {2}.len()` is an error).
                return self.keyword_expression(tok)
        if tok.kind == "op" and tok.value == "{":
            return self.punctuation_expression(tok)  # a block statement, likewise
        expr = self.expression()
        nxt = self.peek()
        if nxt.kind == "op" and (nxt.value == "=" or nxt.value in _COMPOUND_ASSIGN):
            if not isinstance(expr, n.Var | n.Index | n.Prop | n.This) or self.has_safe_access(expr):
                raise self.error("cannot assign to this expression", nxt)
            self.advance()
            value = self.expression()
            op = None if nxt.value == "=" else _COMPOUND_ASSIGN[str(nxt.value)]
            return n.Assign(nxt.line, nxt.col, expr, op, value)
        return expr

    @staticmethod
    def has_safe_access(expr: n.Node) -> bool:
        while isinstance(expr, n.Index | n.Prop):
            if expr.safe:
                return True
            expr = expr.target
        return False

    def optional_value(self) -> n.Node | None:
        tok = self.peek()
        # ',' ends a `break`/`return`/`throw` used as a `switch` arm.
        if tok.kind == "eof" or (tok.kind == "op" and tok.value in (";", "}", ",")):
            return None
        return self.expression()

    def let_statement(self) -> n.Let:
        tok = self.advance()
        const = tok.value == "const"
        name = self.expect_ident("a variable name")
        value: n.Node | None = None
        if self.at_op("="):
            self.advance()
            value = self.expression()
        elif const:
            raise self.unexpected(expecting="'=' (a constant needs a value)")
        return n.Let(tok.line, tok.col, str(name.value), value, const)

    def fn_definition(self) -> n.FnDef:
        tok = self.advance()
        if tok.value == "private":
            self.advance()
        name = self.expect_ident("a function name")
        self.expect_op("(")
        params = self.param_list(")")
        if self.fn_level > 0:
            raise self.error("functions can only be defined at global level", tok)
        for fn in self.functions:
            if fn.name == name.value and len(fn.params) == len(params):
                raise self.error(f"function '{name.value}' with {len(params)} parameters is already defined", name)
        saved_loop, self.loop_level = self.loop_level, 0
        self.fn_level += 1
        try:
            body = self.block()
        finally:
            self.fn_level -= 1
            self.loop_level = saved_loop
        return n.FnDef(tok.line, tok.col, str(name.value), params, body)

    def param_list(self, closer: str) -> tuple[str, ...]:
        params: list[str] = []
        while not self.at_op(closer):
            tok = self.expect_ident("a parameter name")
            if tok.value in params:
                raise self.error(f"duplicated parameter '{tok.value}'", tok)
            params.append(str(tok.value))
            if not self.at_op(closer):
                self.expect_op(",")
        self.advance()
        return tuple(params)

    def try_statement(self) -> n.Try:
        tok = self.advance()
        body = self.block()
        if not self.at_kw("catch"):
            raise self.unexpected(expecting="'catch'")
        self.advance()
        err_name: str | None = None
        if self.at_op("("):
            self.advance()
            err_name = str(self.expect_ident("an error variable name").value)
            self.expect_op(")")
        self.catch_level += 1
        try:
            handler = self.block()
        finally:
            self.catch_level -= 1
        return n.Try(tok.line, tok.col, body, err_name, handler)

    def block(self) -> n.Block:
        tok = self.expect_op("{")
        self.enter(tok)
        stmts = self.statements()
        self.expect_op("}")
        self.depth -= 1
        return n.Block(tok.line, tok.col, tuple(stmts))

    # ---- expressions ---------------------------------------------------------------------------------
    def expression(self, min_prec: int = 1) -> n.Node:
        tok = self.peek()
        self.enter(tok)
        left = self.unary()
        chain_prec = -1
        ops: list[str] = []
        rights: list[n.Node] = []
        positions: list[tuple[int, int]] = []
        while True:
            op_tok = self.peek()
            op = self.binary_operator(op_tok)
            prec = _BINARY_PRECEDENCE.get(op) if op else None
            if op is None or prec is None or prec < min_prec:
                break
            # Flush a chain of a different (necessarily lower) precedence into one node first.
            if ops and prec != chain_prec:
                left = n.Binary(left.line, left.col, left, tuple(ops), tuple(rights), tuple(positions))
                ops, rights, positions = [], [], []
            self.advance()
            if op == "!in":
                self.advance()
            right = self.expression(prec if op == "**" else prec + 1)
            if op in _SHORT_CIRCUIT:
                left = n.Logical(op_tok.line, op_tok.col, op, left, right)
                continue
            if op == "**":
                left = n.Binary(left.line, left.col, left, ("**",), (right,), ((op_tok.line, op_tok.col),))
                continue
            chain_prec = prec
            ops.append(op)
            rights.append(right)
            positions.append((op_tok.line, op_tok.col))
        if ops:
            left = n.Binary(left.line, left.col, left, tuple(ops), tuple(rights), tuple(positions))
        self.depth -= 1
        return left

    def binary_operator(self, tok: Token) -> str | None:
        if tok.kind == "op":
            if tok.value == "!":
                nxt = self.peek(1)
                return "!in" if nxt.kind == "kw" and nxt.value == "in" else None
            return str(tok.value)
        if tok.kind == "kw" and tok.value == "in":
            return "in"
        return None

    def unary(self) -> n.Node:
        tok = self.peek()
        if tok.kind == "op" and tok.value in ("-", "+", "!"):
            self.advance()
            nxt = self.peek()
            if tok.value == "-" and nxt.kind == "int" and nxt.value == I64_MAX + 1:
                # The minimum i64 can only be written as a negated literal: 9223372036854775808 alone
                # does not fit.
                self.advance()
                return self.postfix(n.Literal(tok.line, tok.col, -(I64_MAX + 1)))
            self.enter(tok)
            operand = self.unary()
            self.depth -= 1
            return n.Unary(tok.line, tok.col, str(tok.value), operand)
        return self.postfix(self.primary())

    def postfix(self, expr: n.Node) -> n.Node:
        while True:
            tok = self.peek()
            if tok.kind != "op":
                return expr
            if tok.value in (".", "?."):
                self.advance()
                name_tok = self.peek()
                if name_tok.kind not in ("ident", "kw"):
                    raise self.unexpected(expecting="a property or method name")
                self.advance()
                name = str(name_tok.value)
                safe = tok.value == "?."
                if self.at_op("("):
                    self.advance()
                    args = self.arguments()
                    expr = n.MethodCall(name_tok.line, name_tok.col, expr, name, args, safe)
                else:
                    if name_tok.kind == "kw":
                        raise self.unexpected(name_tok, "a property name")
                    expr = n.Prop(name_tok.line, name_tok.col, expr, name, safe)
            elif tok.value in ("[", "?["):
                self.advance()
                index = self.expression()
                self.expect_op("]")
                expr = n.Index(tok.line, tok.col, expr, index, tok.value == "?[")
            elif tok.value == "::":
                raise self.error("unsupported syntax: module namespaces ('::')", tok)
            elif tok.value == "?":
                raise self.error("unsupported syntax: '?' operator", tok)
            else:
                return expr

    def arguments(self) -> tuple[n.Node, ...]:
        """Comma-separated expressions after '(' up to and including ')'."""
        args: list[n.Node] = []
        while not self.at_op(")"):
            args.append(self.expression())
            if not self.at_op(")"):
                self.expect_op(",")
        self.advance()
        return tuple(args)

    def note_name(self, name: str) -> None:
        for names in self.capture_sets:
            names.add(name)

    def primary(self) -> n.Node:
        tok = self.peek()
        kind, value = tok.kind, tok.value
        if kind == "int" and isinstance(value, int) and value > I64_MAX:
            value = float(value)  # 2**63 not folded into `-9223372036854775808`: a float, as in Rhai
        if kind in ("int", "float", "str", "char"):
            self.advance()
            assert isinstance(value, int | float | str)
            return n.Literal(tok.line, tok.col, value)
        if kind == "interp":
            self.advance()
            assert isinstance(value, tuple)
            return self.interpolation(tok, value)
        if kind == "ident":
            self.check_reserved(tok)
            self.advance()
            name = str(value)
            if self.at_op("::"):
                raise self.error("unsupported syntax: module namespaces ('::')", self.peek())
            self.note_name(name)
            if self.at_op("("):
                self.advance()
                if name == "eval":
                    raise self.error("unsupported syntax: 'eval' (dynamic code evaluation)", tok)
                return n.Call(tok.line, tok.col, name, self.arguments())
            return n.Var(tok.line, tok.col, name)
        if kind == "kw":
            return self.keyword_expression(tok)
        if kind == "op":
            return self.punctuation_expression(tok)
        raise self.unexpected(tok)

    def keyword_expression(self, tok: Token) -> n.Node:
        word = tok.value
        if word in ("true", "false"):
            self.advance()
            return n.Literal(tok.line, tok.col, word == "true")
        if word == "this":
            self.advance()
            return n.This(tok.line, tok.col)
        if word == "if":
            return self.if_expression()
        if word == "switch":
            return self.switch_expression()
        if word == "while":
            self.advance()
            cond = self.expression()
            return n.While(tok.line, tok.col, cond, self.loop_body())
        if word == "loop":
            self.advance()
            return n.Loop(tok.line, tok.col, self.loop_body())
        if word == "do":
            self.advance()
            body = self.loop_body()
            if not (self.at_kw("while") or self.at_kw("until")):
                raise self.unexpected(expecting="'while' or 'until'")
            until = self.advance().value == "until"
            return n.DoLoop(tok.line, tok.col, body, self.expression(), until)
        if word == "for":
            return self.for_expression()
        if word in ("import", "export"):
            raise self.error(f"unsupported syntax: '{word}' statements (modules are not available)", tok)
        if word == "global":
            raise self.error("unsupported syntax: the 'global::' namespace", tok)
        if word == "fn":
            raise self.error("functions can only be defined at global level", tok)
        raise self.unexpected(tok)

    def punctuation_expression(self, tok: Token) -> n.Node:
        value = tok.value
        if value == "(":
            self.advance()
            if self.at_op(")"):
                self.advance()
                return n.Literal(tok.line, tok.col, None)
            inner = self.expression()
            self.expect_op(")")
            return inner
        if value == "[":
            self.advance()
            items: list[n.Node] = []
            while not self.at_op("]"):
                items.append(self.expression())
                if not self.at_op("]"):
                    self.expect_op(",")
            self.advance()
            return n.ArrayLit(tok.line, tok.col, tuple(items))
        if value == "#{":
            return self.map_literal()
        if value == "{":
            return self.block()
        if value in ("|", "||"):
            return self.closure()
        if value == "?":
            raise self.error("unsupported syntax: '?' operator", tok)
        raise self.unexpected(tok)

    def map_literal(self) -> n.MapLit:
        tok = self.advance()
        keys: list[str] = []
        values: list[n.Node] = []
        while not self.at_op("}"):
            key_tok = self.peek()
            if key_tok.kind in ("ident", "str", "kw"):
                self.advance()
            else:
                raise self.unexpected(expecting="a property name")
            key = str(key_tok.value)
            if key in keys:
                raise self.error(f"duplicated property '{key}' in object map literal", key_tok)
            self.expect_op(":")
            keys.append(key)
            values.append(self.expression())
            if not self.at_op("}"):
                self.expect_op(",")
        self.advance()
        return n.MapLit(tok.line, tok.col, tuple(keys), tuple(values))

    def closure(self) -> n.ClosureExpr:
        tok = self.advance()
        params: tuple[str, ...] = ()
        if tok.value == "|":
            params = self.param_list("|")
        names: set[str] = set()
        self.capture_sets.append(names)
        saved_loop, self.loop_level = self.loop_level, 0
        self.fn_level += 1
        try:
            body = self.expression()
        finally:
            self.fn_level -= 1
            self.loop_level = saved_loop
            self.capture_sets.pop()
        captures = tuple(sorted(names - set(params)))
        return n.ClosureExpr(tok.line, tok.col, params, body, captures)

    def loop_body(self) -> n.Block:
        self.loop_level += 1
        try:
            return self.block()
        finally:
            self.loop_level -= 1

    def if_expression(self) -> n.If:
        first = self.peek()
        branches: list[tuple[n.Node, n.Block]] = []
        otherwise: n.Block | None = None
        while True:
            self.advance()  # 'if'
            cond = self.expression()
            if self.at_op("="):
                raise self.error("assignment is not allowed in a condition (did you mean '=='?)")
            branches.append((cond, self.block()))
            if not self.at_kw("else"):
                break
            self.advance()
            if self.at_kw("if"):
                continue  # `else if` stays flat: long chains must not nest deeply.
            otherwise = self.block()
            break
        return n.If(first.line, first.col, tuple(branches), otherwise)

    def for_expression(self) -> n.For:
        tok = self.advance()
        index_var: str | None = None
        if self.at_op("("):
            self.advance()
            var = str(self.expect_ident("a loop variable name").value)
            self.expect_op(",")
            index_var = str(self.expect_ident("a counter variable name").value)
            self.expect_op(")")
        else:
            var = str(self.expect_ident("a loop variable name").value)
        if not self.at_kw("in"):
            raise self.unexpected(expecting="'in'")
        self.advance()
        if self.at_op("{"):
            # Rhai takes the `{` after `in` for the loop body, never for a block expression.
            raise self.unexpected(expecting="an expression to iterate over")
        iterable = self.expression()
        return n.For(tok.line, tok.col, var, index_var, iterable, self.loop_body())

    def switch_expression(self) -> n.Switch:
        tok = self.advance()
        subject = self.expression()
        self.expect_op("{")
        arms: list[n.SwitchArm] = []
        default: n.Node | None = None
        seen: set[object] = set()
        while not self.at_op("}"):
            arm_tok = self.peek()
            if default is not None:
                raise self.error("the default case '_' must be the last case of a 'switch'", arm_tok)
            if arm_tok.kind == "ident" and arm_tok.value == "_":
                self.advance()
                if self.at_kw("if"):
                    raise self.error("the default case '_' cannot have a condition")
                self.expect_op("=>")
                default = self.arm_body()
            else:
                patterns = [self.switch_pattern()]
                while self.at_op("|"):
                    self.advance()
                    patterns.append(self.switch_pattern())
                condition: n.Node | None = None
                if self.at_kw("if"):
                    self.advance()
                    condition = self.expression()
                for pattern in patterns:
                    key = (type(pattern), pattern)
                    if condition is None and key in seen:
                        raise self.error("duplicated 'switch' case", arm_tok)
                    seen.add(key)
                self.expect_op("=>")
                arms.append(n.SwitchArm(arm_tok.line, arm_tok.col, tuple(patterns), condition, self.arm_body()))
            if self.at_op(","):
                self.advance()
            elif not self.at_op("}") and not isinstance(self.last_arm_body(arms, default), n.Block):
                raise self.unexpected(expecting="',' between 'switch' cases")
        self.advance()
        return n.Switch(tok.line, tok.col, subject, tuple(arms), default)

    @staticmethod
    def last_arm_body(arms: list[n.SwitchArm], default: n.Node | None) -> n.Node | None:
        return default if default is not None else (arms[-1].body if arms else None)

    def arm_body(self) -> n.Node:
        # An arm is an expression or a single statement (`x = 1`, `break`, `return v`, `throw e`).
        return self.statement(top_level=False)

    def switch_pattern(self) -> n.Constant | tuple[int, int, bool]:
        tok = self.peek()
        start = self.pattern_literal()
        if self.at_op("..") or self.at_op("..="):
            inclusive = self.advance().value == "..="
            end = self.pattern_literal()
            if type(start) is not int or type(end) is not int:
                raise self.error("a 'switch' range case needs integer bounds", tok)
            return (start, end, inclusive)
        return start

    def pattern_literal(self) -> n.Constant:
        tok = self.peek()
        negative = False
        if tok.kind == "op" and tok.value == "-":
            self.advance()
            negative = True
            tok = self.peek()
        if tok.kind in ("int", "float") or (not negative and tok.kind in ("str", "char")):
            self.advance()
            value = tok.value
            assert isinstance(value, int | float | str)
            return -value if negative and not isinstance(value, str) else value
        if not negative and tok.kind == "kw" and tok.value in ("true", "false"):
            self.advance()
            return tok.value == "true"
        if not negative and tok.kind == "op" and tok.value == "(" and self.peek(1).value == ")":
            self.advance()
            self.advance()
            return None
        if tok.kind == "op" and tok.value in ("[", "#{"):
            raise self.error("unsupported syntax: array and object map 'switch' cases", tok)
        raise self.error("a 'switch' case must be a literal constant", tok)

    def interpolation(self, tok: Token, parts: tuple[object, ...]) -> n.Interp:
        nodes: list[n.Node] = []
        for part in parts:
            if isinstance(part, str):
                nodes.append(n.Literal(tok.line, tok.col, part))
                continue
            assert isinstance(part, tuple)
            inner = _Parser(part, self.limits)
            inner.depth = self.depth + 1
            inner.fn_level = self.fn_level
            inner.loop_level = self.loop_level
            inner.catch_level = self.catch_level
            inner.capture_sets = self.capture_sets
            first = part[0]
            stmts = inner.statements()
            if inner.peek().kind != "eof":
                raise inner.unexpected()
            if inner.functions:
                raise self.error("functions can only be defined at global level", first)
            nodes.append(n.Block(first.line, first.col, tuple(stmts)))
        return n.Interp(tok.line, tok.col, tuple(nodes))


def parse(source: str, limits: RhaiLimits = DEFAULT_LIMITS) -> n.Program:
    """Parse ``source`` into a :class:`~noetl_worker.rhai.nodes.Program`.

    Raises :class:`RhaiSyntaxError` (bad or unsupported syntax) or :class:`RhaiLimitError` (source too
    large or too deeply nested), both carrying line and column.
    """
    if len(source) > limits.max_source_size:
        raise RhaiLimitError(f"script is {len(source)} characters; the limit is {limits.max_source_size}")
    return _Parser(tokenize(source), limits).program()
