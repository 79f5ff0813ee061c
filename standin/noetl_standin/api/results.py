"""The result store: ``PUT /api/result/{execution_id}``, ``GET /api/result/resolve?ref=`` and step lookup.

``/api/temp/...`` is served as the legacy twin. Tier routing follows the server (small step-scoped
values in memory, under 1 MB in KV, larger on disk); everything is kept in memory here, only the
reported ``store`` differs.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from noetl_wire.results import ResultPutRequest, ResultScope, StoreTier, build_result_uri
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from noetl_standin.api._http import HttpError, dumps, json_response, path_id, query_bool, read_json, validate
from noetl_standin.core import ControlPlane
from noetl_standin.records import ResultRecord, iso

__all__ = ["routes"]

_SCOPES = {member.value for member in ResultScope}
_TIERS = {member.value for member in StoreTier}
_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_TTL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DEFAULT_TTL_SECONDS = {"step": 3600.0, "execution": 86400.0, "workflow": 86400.0, "permanent": None}


def _ttl_seconds(ttl: str | int | None, scope: str) -> float | None:
    if ttl is None:
        return _DEFAULT_TTL_SECONDS[scope]
    if isinstance(ttl, int):
        return float(ttl)
    if ttl.strip().lower() == "forever":
        return None
    match = _TTL.match(ttl.lower())
    if match is None:
        raise HttpError(400, f"Invalid ttl {ttl!r}: use seconds, '30m', '1h', '1d' or 'forever'")
    return float(match.group(1)) * _TTL_UNITS[match.group(2)]


def _tier(size: int, scope: str) -> str:
    if size < 10 * 1024 and scope == "step":
        return "memory"
    if size < 1024 * 1024:
        return "kv"
    return "disk"


async def put_result(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    execution_id = path_id(request, "execution_id")
    raw = await read_json(request)
    if isinstance(raw, dict):
        if "scope" in raw and raw["scope"] not in _SCOPES:
            raise HttpError(400, f"Invalid scope {raw['scope']!r}; expected one of {sorted(_SCOPES)}")
        if raw.get("store") is not None and raw["store"] not in _TIERS:
            raise HttpError(400, f"Invalid store tier {raw['store']!r}; expected one of {sorted(_TIERS)}")
    body = validate(ResultPutRequest, raw)
    encoded = dumps(body.data)
    now = time.time()
    scope = body.scope.value
    ttl = _ttl_seconds(body.ttl, scope)
    store = body.store.value if body.store else _tier(len(encoded), scope)
    ref = build_result_uri(execution_id, body.name, str(plane.store.new_id()))
    record = ResultRecord(
        ref=ref,
        execution_id=execution_id,
        name=body.name,
        data=body.data,
        scope=scope,
        store=store,
        bytes=len(encoded),
        sha256=hashlib.sha256(encoded).hexdigest(),
        created_at=now,
        expires_at=None if ttl is None else now + ttl,
        source_step=body.source_step,
        correlation=body.correlation,
        extracted=body.extracted,
    )
    await plane.store.put_result(record)
    return json_response(
        {
            "ref": ref,
            "store": store,
            "scope": scope,
            "expires_at": iso(record.expires_at),
            "bytes": record.bytes,
            "sha256": record.sha256,
        }
    )


async def _live(plane: ControlPlane, record: ResultRecord | None) -> ResultRecord | None:
    if record is not None and record.expires_at is not None and record.expires_at < time.time():
        return None
    return record


async def resolve(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    ref = request.query_params.get("ref")
    if not ref:
        raise HttpError(422, [{"type": "missing", "loc": ["query", "ref"], "msg": "Field required", "input": None}])
    record = await _live(plane, await plane.store.get_result(ref))
    if record is None:
        raise HttpError(404, f"Result not found: {ref}")
    return json_response(record.data)


async def step_result(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    execution_id = path_id(request, "execution_id")
    step = str(request.path_params["step_name"])
    record = await _live(plane, await plane.store.latest_result(execution_id, step))
    if record is None:
        raise HttpError(404, f"No result for step {step!r} in execution {execution_id}")
    if query_bool(request, "resolve", default=True):
        return json_response(record.data)
    meta: dict[str, Any] = {
        "ref": record.ref,
        "store": record.store,
        "scope": record.scope,
        "name": record.name,
        "expires_at": iso(record.expires_at),
        "bytes": record.bytes,
        "sha256": record.sha256,
        "preview": None,
        "extracted": record.extracted,
        "correlation": record.correlation,
    }
    return json_response(meta)


routes = [
    route
    for prefix in ("/api/result", "/api/temp")
    for route in (
        Route(f"{prefix}/resolve", resolve, methods=["GET"]),
        Route(f"{prefix}/{{execution_id}}", put_result, methods=["PUT"]),
        Route(f"{prefix}/{{execution_id}}/{{step_name}}", step_result, methods=["GET"]),
    )
]
