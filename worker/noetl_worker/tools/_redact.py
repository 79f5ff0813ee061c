"""Keep the command's secret values out of what a tool echoes back (results, error messages)."""

from __future__ import annotations

from collections.abc import Mapping

from noetl_worker.jsontypes import JSONValue

__all__ = ["REDACTED", "redact"]

REDACTED = "[REDACTED]"
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary text ("1", "yes") without protecting anything


def redact(value: JSONValue, secrets: Mapping[str, str]) -> JSONValue:
    """``value`` with every occurrence of a secret value replaced by ``[REDACTED]`` (recursively)."""
    needles = sorted({s for s in secrets.values() if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)
    if not needles:
        return value
    return _redact(value, needles)


def _redact(value: JSONValue, needles: list[str]) -> JSONValue:
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: _redact(item, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, needles) for item in value]
    return value
