"""Snippets users copy from the docs, so tests can install and check exactly what the docs show.

A snippet is the fenced code block right after an ``<!-- snippet: NAME -->`` line in a Markdown file.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["snippet"]

_FENCE = re.compile(r"^<!-- snippet: (?P<name>[\w.-]+) -->\n```[\w-]*\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def snippet(doc: Path, name: str) -> str:
    """The text of snippet ``name`` in ``doc``; a clear error when it is missing or repeated."""
    found = [match["body"] for match in _FENCE.finditer(doc.read_text()) if match["name"] == name]
    if len(found) != 1:
        raise LookupError(f"{doc.name}: expected one `<!-- snippet: {name} -->` block, found {len(found)}")
    return found[0]
