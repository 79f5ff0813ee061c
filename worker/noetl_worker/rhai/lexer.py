"""Tokenizer for the Rhai subset.

Produces a flat list of :class:`Token` with 1-based line/column positions. Back-tick strings with
``${...}`` interpolation are tokenized recursively: an ``interp`` token carries its literal text pieces
and, for each ``${...}``, the token list of the embedded block (which the parser parses as a block).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from .errors import RhaiSyntaxError

__all__ = ["KEYWORDS", "InterpPart", "Token", "tokenize"]

#: Words the parser treats as keywords (everything else alphanumeric is an identifier).
KEYWORDS = frozenset(
    {
        "let", "const", "if", "else", "switch", "while", "loop", "do", "until", "for", "in",
        "break", "continue", "return", "throw", "try", "catch", "fn", "private", "true", "false",
        "this", "import", "export", "as", "global",
    }
)  # fmt: skip

# Longest first, so that e.g. "..=" wins over ".." and "." (maximal munch).
_OPERATORS = (
    "..=", "**=", "<<=", ">>=",
    "=>", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    "<<", ">>", "**", "..", "?.", "?[", "??", "::", "->", "#{",
    "+", "-", "*", "/", "%", "=", "<", ">", "!", "&", "|", "^", "(", ")", "[", "]", "{", "}",
    ",", ";", ":", ".", "?",
)  # fmt: skip
_OPS_BY_FIRST: dict[str, tuple[str, ...]] = {}
for _op in _OPERATORS:
    _OPS_BY_FIRST.setdefault(_op[0], ())
    _OPS_BY_FIRST[_op[0]] += (_op,)

# ASCII only: str.isdigit() also accepts characters such as "²" that int() rejects.
_DIGITS = frozenset("0123456789")
# Interpolations nest by recursion in the lexer; bound it independently of the parser's depth limit.
_MAX_INTERPOLATION_DEPTH = 16
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


@dataclass(frozen=True, slots=True)
class Token:
    """One token. ``value`` is the decoded literal for int/float/str/char, the text otherwise, and a
    tuple of :data:`InterpPart` for ``interp``."""

    kind: str  # int | float | str | char | interp | ident | kw | op | eof
    value: object
    line: int
    col: int

    def describe(self) -> str:
        """How error messages name this token."""
        if self.kind == "eof":
            return "end of script"
        if self.kind in ("str", "interp"):
            return "string literal"
        if self.kind == "char":
            return "character literal"
        return repr(str(self.value))


InterpPart: TypeAlias = "str | tuple[Token, ...]"


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.interp_depth = 0

    def error(self, reason: str, line: int | None = None, col: int | None = None) -> RhaiSyntaxError:
        if line is None or col is None:
            line, col = self.line, self.pos - self.line_start + 1
        return RhaiSyntaxError(reason, line, col)

    def _newline_at(self, index: int) -> None:
        self.line += 1
        self.line_start = index + 1

    def skip_trivia(self) -> None:
        """Skip whitespace and comments (``//`` line comments, nestable ``/* */`` block comments)."""
        src, n = self.src, len(self.src)
        while self.pos < n:
            ch = src[self.pos]
            if ch == "\n":
                self._newline_at(self.pos)
                self.pos += 1
            elif ch in " \t\r\f\v\ufeff":
                self.pos += 1
            elif src.startswith("//", self.pos):
                end = src.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif src.startswith("/*", self.pos):
                line, col = self.line, self.pos - self.line_start + 1
                depth = 0
                while True:
                    if self.pos >= n:
                        raise self.error("unterminated block comment", line, col)
                    if src.startswith("/*", self.pos):
                        depth += 1
                        self.pos += 2
                    elif src.startswith("*/", self.pos):
                        depth -= 1
                        self.pos += 2
                        if depth == 0:
                            break
                    else:
                        if src[self.pos] == "\n":
                            self._newline_at(self.pos)
                        self.pos += 1
            else:
                return

    def tokens_until_eof(self) -> list[Token]:
        out: list[Token] = []
        while True:
            tok = self.next_token()
            if tok.kind == "int" and len(out) >= 1:
                self._reject_signed_radix(out, tok)
            out.append(tok)
            if tok.kind == "eof":
                return out

    def _reject_signed_radix(self, out: list[Token], tok: Token) -> None:
        """Rhai's tokenizer reads a unary `-` written right before a digit as the number's sign, and a
        signed number cannot have a radix prefix: `-0xff` is an invalid number (`-(0xff)` and `1 -0xff`
        are fine)."""
        minus = out[-1]
        if not (minus.kind == "op" and minus.value == "-" and minus.line == tok.line and minus.col + 1 == tok.col):
            return
        before = out[-2] if len(out) >= 2 else None
        if before is not None and (
            before.kind in ("int", "float", "str", "char", "ident", "interp")
            or (before.kind == "op" and before.value in (")", "]", "}"))
            or (before.kind == "kw" and before.value in ("true", "false", "this"))
        ):
            return
        start = self.line_start + tok.col - 1
        if self.src.startswith(("0x", "0o", "0b"), start):
            raise self.error(f"invalid number literal '-{self.src[start : self.pos]}'", minus.line, minus.col)

    def next_token(self) -> Token:
        self.skip_trivia()
        src = self.src
        line, col = self.line, self.pos - self.line_start + 1
        if self.pos >= len(src):
            return Token("eof", "", line, col)
        ch = src[self.pos]
        if ch in _DIGITS:
            return self.number(line, col)
        if ch.isalpha() or ch == "_":
            start = self.pos
            while self.pos < len(src) and (src[self.pos].isalnum() or src[self.pos] == "_"):
                self.pos += 1
            word = src[start : self.pos]
            return Token("kw" if word in KEYWORDS else "ident", word, line, col)
        if ch == '"':
            return Token("str", self.quoted('"', line, col), line, col)
        if ch == "'":
            text = self.quoted("'", line, col)
            if len(text) != 1:
                raise self.error("a character literal must hold exactly one character", line, col)
            return Token("char", text, line, col)
        if ch == "`":
            return self.backtick(line, col)
        if src.startswith(("--", "++"), self.pos):
            # Reserved in Rhai (there is no increment/decrement): `--x` is not a double negation.
            raise self.error(f"'{src[self.pos : self.pos + 2]}' is a reserved symbol", line, col)
        for op in _OPS_BY_FIRST.get(ch, ()):
            if src.startswith(op, self.pos):
                self.pos += len(op)
                return Token("op", op, line, col)
        raise self.error(f"unexpected character {ch!r}", line, col)

    def number(self, line: int, col: int) -> Token:
        src, n = self.src, len(self.src)
        start = self.pos
        if src.startswith(("0x", "0o", "0b"), start):
            base = {"x": 16, "o": 8, "b": 2}[src[start + 1]]
            self.pos += 2
            digits_start = self.pos
            while self.pos < n and (src[self.pos].isalnum() or src[self.pos] == "_"):
                self.pos += 1
            digits = src[digits_start : self.pos].replace("_", "")
            try:
                value = int(digits[:80], base)
            except ValueError:
                raise self.error(f"invalid number literal {src[start : self.pos]!r}", line, col) from None
            if len(digits) > 80 or value >= 2**63:
                raise self.error("integer literal is out of range for i64", line, col)
            return Token("int", value, line, col)
        is_float = False
        while self.pos < n and (src[self.pos] in _DIGITS or src[self.pos] == "_"):
            self.pos += 1
        # A '.' makes a float only when a digit follows: `1..5` is a range and `1.max(2)` a method call.
        if self.pos + 1 < n and src[self.pos] == "." and src[self.pos + 1] in _DIGITS:
            is_float = True
            self.pos += 1
            while self.pos < n and (src[self.pos] in _DIGITS or src[self.pos] == "_"):
                self.pos += 1
        if self.pos < n and src[self.pos] in "eE":
            look = self.pos + 1
            if look < n and src[look] in "+-":
                look += 1
            if look < n and src[look] in _DIGITS:
                is_float = True
                self.pos = look
                while self.pos < n and src[self.pos] in _DIGITS:
                    self.pos += 1
        if self.pos < n and (src[self.pos].isalpha() or src[self.pos] == "_"):
            while self.pos < n and (src[self.pos].isalnum() or src[self.pos] == "_"):
                self.pos += 1
            raise self.error(f"invalid number literal {src[start : self.pos]!r}", line, col)
        text = src[start : self.pos].replace("_", "")
        if is_float:
            return Token("float", float(text), line, col)
        # 2**63 itself is let through so that the parser can fold `-9223372036854775808`; larger
        # decimal literals are floats, as Rhai's tokenizer falls back to f64 when i64 overflows.
        if len(text) > 19 and int(text[:40]) > 2**63:
            return Token("float", float(text), line, col)
        return Token("int", int(text), line, col)

    def quoted(self, quote: str, line: int, col: int) -> str:
        """A ``"..."`` string or ``'.'`` char body with escapes; ``\\`` + newline continues the line."""
        src, n = self.src, len(self.src)
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= n:
                kind = "string" if quote == '"' else "character"
                raise self.error(f"unterminated {kind} literal", line, col)
            ch = src[self.pos]
            if ch == quote:
                self.pos += 1
                return "".join(out)
            if ch == "\n":
                if quote == "'":
                    raise self.error("unterminated character literal", line, col)
                self._newline_at(self.pos)
                out.append(ch)
                self.pos += 1
            elif ch == "\\":
                self.pos += 1
                if self.pos >= n:
                    continue
                esc = src[self.pos]
                if esc == "\n" and quote == '"':
                    # Line continuation: skip the newline and the indentation up to the opening quote.
                    self._newline_at(self.pos)
                    self.pos += 1
                    skipped = 0
                    while self.pos < n and src[self.pos] in " \t" and skipped < col:
                        self.pos += 1
                        skipped += 1
                elif esc in _SIMPLE_ESCAPES:
                    out.append(_SIMPLE_ESCAPES[esc])
                    self.pos += 1
                elif esc in _HEX_ESCAPES:
                    width = _HEX_ESCAPES[esc]
                    digits = src[self.pos + 1 : self.pos + 1 + width]
                    try:
                        if len(digits) != width:
                            raise ValueError(digits)
                        out.append(chr(int(digits, 16)))
                    except ValueError:
                        raise self.error(f"invalid escape sequence '\\{esc}{digits}'") from None
                    self.pos += 1 + width
                else:
                    raise self.error(f"invalid escape sequence '\\{esc}'")
            else:
                out.append(ch)
                self.pos += 1

    def backtick(self, line: int, col: int) -> Token:
        """A literal back-tick string: no escapes, may span lines, ``${block}`` interpolation."""
        src, n = self.src, len(self.src)
        self.pos += 1
        # A back-tick at the end of a line starts the text on the next line.
        rest = src[self.pos : self.pos + 2]
        if rest.startswith("\n"):
            self._newline_at(self.pos)
            self.pos += 1
        elif rest == "\r\n":
            self._newline_at(self.pos + 1)
            self.pos += 2
        parts: list[InterpPart] = []
        text: list[str] = []
        while True:
            if self.pos >= n:
                raise self.error("unterminated string literal", line, col)
            ch = src[self.pos]
            if ch == "`":
                self.pos += 1
                break
            if ch == "$" and src.startswith("${", self.pos):
                if text:
                    parts.append("".join(text))
                    text = []
                self.pos += 2
                parts.append(self.interpolated_block())
                continue
            if ch == "\n":
                self._newline_at(self.pos)
            text.append(ch)
            self.pos += 1
        if text or not parts:
            parts.append("".join(text))
        if len(parts) == 1 and isinstance(parts[0], str):
            return Token("str", parts[0], line, col)
        return Token("interp", tuple(parts), line, col)

    def interpolated_block(self) -> tuple[Token, ...]:
        """Tokens of a ``${...}`` body up to its matching ``}`` (which is consumed, not returned)."""
        self.interp_depth += 1
        if self.interp_depth > _MAX_INTERPOLATION_DEPTH:
            raise self.error(f"string interpolation nested deeper than {_MAX_INTERPOLATION_DEPTH} levels")
        try:
            return self._interpolated_tokens()
        finally:
            self.interp_depth -= 1

    def _interpolated_tokens(self) -> tuple[Token, ...]:
        out: list[Token] = []
        depth = 0
        while True:
            tok = self.next_token()
            if tok.kind == "eof":
                raise self.error("unterminated string interpolation '${'", tok.line, tok.col)
            if tok.kind == "op" and tok.value in ("{", "#{"):
                depth += 1
            elif tok.kind == "op" and tok.value == "}":
                if depth == 0:
                    out.append(Token("eof", "", tok.line, tok.col))
                    return tuple(out)
                depth -= 1
            out.append(tok)


def tokenize(source: str) -> list[Token]:
    """Tokenize ``source``; raises :class:`RhaiSyntaxError` with the position of the first bad token."""
    lexer = _Lexer(source)
    if source.startswith("#!"):
        # Shebang line, as Rhai allows for script files.
        end = source.find("\n")
        lexer.pos = len(source) if end < 0 else end
    return lexer.tokens_until_eof()
