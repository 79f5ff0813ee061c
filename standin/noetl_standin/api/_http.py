"""Request parsing and JSON responses shared by the route modules.

Errors are raised as ``HttpError`` and rendered FastAPI-style (``{"detail": ...}``), the shape NoETL
clients parse: 422 with a list of ``{type, loc, msg, input}`` for unreadable or invalid bodies, a string
or an object ``detail`` otherwise. Nothing a client sends can turn into a 500 through this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "HttpError",
    "dumps",
    "json_response",
    "path_id",
    "query_bool",
    "query_id",
    "read_json",
    "validate",
]

M = TypeVar("M", bound=BaseModel)


class HttpError(Exception):
    """An error answer: status, ``detail`` and optional headers (e.g. ``Retry-After``)."""

    def __init__(self, status: int, detail: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return json_response({"detail": self.detail}, self.status, self.headers)


def dumps(body: Any) -> bytes:
    """orjson for speed; the stdlib for what orjson refuses (ints beyond 64 bits in user data)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":"), default=str).encode()


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers=dict(headers) if headers else None, media_type="application/json")


async def read_json(request: Request) -> Any:
    """The parsed JSON body, or a 422 saying why it is not JSON.

    Parsed with the stdlib, not orjson: orjson turns integers beyond 64 bits into floats, and the
    stand-in must never change a client's numbers.
    """
    raw = await request.body()
    if not raw.strip():
        raise HttpError(422, [_error("missing", ("body",), "Field required", None)])
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HttpError(
            422, [_error("json_invalid", ("body", exc.pos), f"JSON decode error: {exc.msg}", None)]
        ) from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, or nested deeper than the parser allows
        raise HttpError(422, [_error("json_invalid", ("body",), f"JSON decode error: {exc}", None)]) from None


def _error(kind: str, loc: tuple[Any, ...], msg: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": list(loc), "msg": msg, "input": value}


def validate(model: type[M], data: Any) -> M:
    """Validate a parsed body; a 422 lists every problem with its location under ``body``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HttpError(
            422,
            [
                _error(e["type"], ("body", *e["loc"]), e["msg"], e.get("input"))
                for e in exc.errors(include_url=False, include_context=False)
            ],
        ) from None


def _parse_id(value: str, where: str, name: str) -> int:
    if value.isascii() and value.isdigit() and len(value) <= 19 and int(value) < 2**63:
        return int(value)
    raise HttpError(
        422, [_error("int_parsing", (where, name), "Input should be a valid integer, unable to parse string", value)]
    )


def path_id(request: Request, name: str) -> int:
    """A snowflake path parameter, or 422 (as FastAPI answers an unparseable ``int`` path parameter)."""
    return _parse_id(str(request.path_params[name]), "path", name)


def query_id(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    return None if value is None or value == "" else _parse_id(value, "query", name)


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise HttpError(422, [_error("bool_parsing", ("query", name), "Input should be a valid boolean", value)])
