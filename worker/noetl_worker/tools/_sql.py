"""SQL script helpers shared by the ``postgres`` and ``duckdb`` tools.

:func:`split_statements` splits a script on top-level ``;`` the way the reference tools do, but also
ignores semicolons inside ``--`` and ``/* */`` comments, double-quoted identifiers and ``$tag$`` dollar
quotes (PostgreSQL bodies of functions and ``DO`` blocks), so ``CREATE FUNCTION ... $$ ...; ... $$;`` stays
one statement. :func:`quote_identifier` quotes an identifier for PostgreSQL and DuckDB alike.
"""

from __future__ import annotations

import re

__all__ = ["quote_identifier", "split_statements"]

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def quote_identifier(name: str) -> str:
    """``"name"`` with embedded quotes doubled: always exactly one identifier, whatever ``name`` holds."""
    if "\0" in name:
        raise ValueError("identifier contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def split_statements(script: str) -> list[str]:
    """Top-level statements of ``script``, stripped, without empty ones (comment-only pieces dropped)."""
    statements: list[str] = []
    start = 0
    i = 0
    n = len(script)
    while i < n:
        ch = script[i]
        if ch == "-" and script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "/" and script.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:  # PostgreSQL block comments nest
                if script.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif script.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif ch in "'\"":
            escapes = ch == "'" and _is_escape_prefix(script, i)
            i += 1
            while i < n:
                if script[i] == ch:
                    if i + 1 < n and script[i + 1] == ch:  # doubled quote escapes itself
                        i += 2
                        continue
                    break
                if escapes and script[i] == "\\":
                    i += 2
                    continue
                i += 1
            i += 1
        elif ch == "$" and (match := _DOLLAR_TAG.match(script, i)) and not _is_word_char_before(script, i):
            tag = match.group(0)
            end = script.find(tag, match.end())
            i = n if end < 0 else end + len(tag)
        elif ch == ";":
            statements.append(script[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(script[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _is_word_char_before(script: str, i: int) -> bool:
    # `$1` parameters and identifiers like `a$b` are not dollar quotes.
    return i > 0 and (script[i - 1].isalnum() or script[i - 1] == "_")


def _is_escape_prefix(script: str, quote: int) -> bool:
    """Whether the literal opening at ``quote`` is an ``E'...'`` string (backslash escapes apply)."""
    return quote > 0 and script[quote - 1] in "eE" and not _is_word_char_before(script, quote - 1)


def _has_code(piece: str) -> bool:
    text = re.sub(r"/\*.*?\*/", " ", piece, flags=re.DOTALL)
    text = re.sub(r"--[^\n]*", " ", text)
    return bool(text.strip())
