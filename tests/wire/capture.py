"""Loads the real NoETL wire capture (server ↔ upstream Python worker) for contract tests.

The capture lives in the repository (``tests/wire/data/noetl-wire-capture/``, copied verbatim from the
upstream recording; its README says how it was made), so the suite needs nothing outside the checkout.
``NOETL_WIRE_CAPTURE_DIR`` points the tests at another recording. A missing or empty folder is an error,
never an empty parameter list: contract tests over no records would pass without checking anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_CAPTURE_DIR = Path(__file__).resolve().parent / "data" / "noetl-wire-capture"
CAPTURE_DIR = Path(os.environ.get("NOETL_WIRE_CAPTURE_DIR") or DEFAULT_CAPTURE_DIR)


class CaptureMissingError(FileNotFoundError):
    """The capture folder, or the files a pattern asks for, are not there."""


def capture_files(pattern: str) -> list[Path]:
    """The capture's files matching ``pattern``, sorted; raises if there are none."""
    paths = sorted(CAPTURE_DIR.glob(pattern))
    if not paths:
        raise CaptureMissingError(f"no {pattern} in the wire capture at {CAPTURE_DIR} (NOETL_WIRE_CAPTURE_DIR)")
    return paths


def _raw_records(pattern: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in capture_files(pattern):
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
