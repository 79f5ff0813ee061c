"""Loads the real NoETL wire capture (server ↔ upstream Python worker) for contract tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CAPTURE_DIR = Path(os.environ.get("NOETL_WIRE_CAPTURE_DIR", "/work/shared/spec/noetl-wire-capture"))


def _raw_records(pattern: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(CAPTURE_DIR.glob(pattern)):
        with path.open() as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield f"{path.parent.name}/{path.name}:{number}", json.loads(line)


def http_records(method: str, path_suffix: str) -> list[tuple[str, dict[str, Any]]]:
    """Every captured worker HTTP exchange whose method matches and whose path ends with ``path_suffix``."""
    return [
        (where, record)
        for where, record in _raw_records("*/worker_http.jsonl")
        if record["method"] == method and record["path"].endswith(path_suffix)
    ]


def startup_records() -> list[tuple[str, dict[str, Any]]]:
    return list(_raw_records("worker_startup.jsonl"))


def pointer_records() -> list[tuple[str, dict[str, Any]]]:
    return list(_raw_records("*/nats_pointers.jsonl"))


def raw_lines(pattern: str) -> list[tuple[str, str]]:
    """The undecoded JSON lines, for checks that must not go through a float-prone parser."""
    out: list[tuple[str, str]] = []
    for path in sorted(CAPTURE_DIR.glob(pattern)):
        out.extend(
            (f"{path.parent.name}/{path.name}:{n}", line) for n, line in enumerate(path.open(), 1) if line.strip()
        )
    return out
