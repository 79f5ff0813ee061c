"""Database values to JSON, precisely: nothing becomes null unless it was NULL.

Decimals stay exact (as text), temporal values become ISO 8601 text, UUIDs/addresses their text, bytes
base64, intervals ISO 8601 durations, ranges ``{lower, upper, lower_inc, upper_inc, empty}``, records and
mappings objects, arrays lists. Anything else is its ``str()``.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import uuid
from collections.abc import Mapping
from typing import Any

from noetl_worker.jsontypes import JSONValue

__all__ = ["to_json_value"]


def _duration(value: datetime.timedelta) -> str:
    """ISO 8601 duration, exact to the microsecond (``P1DT3600.5S``; negative as ``-PT1S``)."""
    sign = "-" if value < datetime.timedelta(0) else ""
    value = abs(value)
    seconds = f"{value.seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".")
    return f"{sign}P{value.days}DT{seconds}S" if value.days else f"{sign}PT{seconds}S"


def to_json_value(value: Any) -> JSONValue:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return _duration(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_value(v) for v in value]
    if hasattr(value, "lower") and hasattr(value, "upper") and hasattr(value, "isempty"):  # asyncpg.Range
        return {
            "lower": to_json_value(value.lower),
            "upper": to_json_value(value.upper),
            "lower_inc": bool(value.lower_inc),
            "upper_inc": bool(value.upper_inc),
            "empty": bool(value.isempty),
        }
    if hasattr(value, "items") and callable(value.items):  # asyncpg.Record (composite types)
        return {str(k): to_json_value(v) for k, v in value.items()}
    return str(value)
