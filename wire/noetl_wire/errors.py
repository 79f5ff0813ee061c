"""Error bodies: FastAPI-shaped ``{"detail": <string | object | list>}``.

Conflicts (409) and overload (503) carry an object ``detail`` with a machine-readable ``code``; clients
decide retry-vs-give-up from that code and the ``Retry-After`` header, never from the message text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ErrorBody", "ErrorCode", "ErrorDetail", "error_body", "parse_error_code", "parse_retry_after"]


class ErrorCode(StrEnum):
    """``detail.code`` values a worker must understand."""

    ACTIVE_CLAIM = "active_claim"
    ALREADY_TERMINAL = "already_terminal"
    POOL_SATURATED = "pool_saturated"
    DB_UNAVAILABLE = "db_unavailable"
    INTERNAL_ERROR = "internal_error"
    QUEUE_UNAVAILABLE = "queue_unavailable"
    WORKER_UNAVAILABLE = "worker_unavailable"
    ACK_TIMEOUT = "ack_timeout"
    ENQUEUE_ERROR = "enqueue_error"
    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"


class ErrorDetail(BaseModel):
    """An object ``detail``: ``code`` plus a message and code-specific extras (e.g. ``worker_id``)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str | None = None


class ErrorBody(BaseModel):
    """``{"detail": ...}``: a string (404s), an ``ErrorDetail`` (409/503/500) or a list (422 validation)."""

    model_config = ConfigDict(extra="allow")

    detail: ErrorDetail | str | list[Any] | dict[str, Any]


def error_body(code: ErrorCode | str, message: str, **extra: Any) -> dict[str, Any]:
    """Build the JSON for an object ``detail`` body."""
    return {"detail": {"code": str(code), "message": message, **extra}}


def parse_error_code(body: bytes | str | Mapping[str, Any] | None) -> ErrorCode | str | None:
    """Return ``detail.code`` from an error body (an ``ErrorCode`` when known), or None if there is none.

    Never raises: an unparseable body simply has no code.
    """
    if body is None:
        return None
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
    if not isinstance(data, Mapping):
        return None
    detail = data.get("detail")
    if not isinstance(detail, Mapping):
        return None
    code = detail.get("code")
    if not isinstance(code, str):
        return None
    try:
        return ErrorCode(code)
    except ValueError:
        return code


def parse_retry_after(value: str | None, *, default: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form only); ``default`` when absent or invalid."""
    if value is None:
        return default
    try:
        seconds = float(value.strip())
    except ValueError:
        return default
    if not math.isfinite(seconds) or seconds < 0:
        return default
    return seconds
