"""Snowflake id types for the wire models.

NoETL ids are 64-bit snowflakes, larger than 2^53, so a float would silently corrupt them. These
annotated types keep them as Python ``int`` whatever the sender used: a JSON integer, or the digit
string the server emits in some places (``meta.execution_id``, ``render_context.catalog_id``, batch
``execution_id``). Floats and booleans are refused, because accepting them would hide a lossy producer.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["CommandIdValue", "IdString", "Snowflake", "coerce_command_id", "coerce_snowflake"]

# Signed 64-bit ceiling: the server stores ids in BIGINT columns.
MAX_ID = 2**63 - 1


def coerce_snowflake(value: Any) -> int:
    """Return ``value`` as a non-negative 64-bit int; accept ints and digit strings only."""
    if isinstance(value, bool):
        raise ValueError("must be an integer id, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"must be an integer id or a string of digits, got {value!r}")
        number = int(text)
    elif isinstance(value, float):
        raise ValueError("must be an integer id, not a float (snowflake ids exceed 2^53 and lose precision)")
    else:
        raise ValueError(f"must be an integer id, got {type(value).__name__}")
    if not 0 <= number <= MAX_ID:
        raise ValueError(f"must be between 0 and 2^63-1, got {number}")
    return number


def coerce_command_id(value: Any) -> int | str:
    """A command id: an int (digit strings become ints) or, from older servers, an opaque non-empty string."""
    if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
        if not value:
            raise ValueError("must not be an empty string")
        return value
    return coerce_snowflake(value)


Snowflake = Annotated[int, BeforeValidator(coerce_snowflake)]
"""An id kept as ``int`` and serialised as a JSON integer."""

IdString = Annotated[int, BeforeValidator(coerce_snowflake), PlainSerializer(str, return_type=str)]
"""An id kept as ``int`` in Python but serialised as a digit string, where the server's wire uses strings."""

CommandIdValue = Annotated[int | str, BeforeValidator(coerce_command_id)]
"""A command id: ``int`` normally; an opaque string only when a producer sent a non-numeric one."""
