"""``/api/vars/{execution_id}[/{var_name}]``: execution variables."""

from __future__ import annotations

import time

from noetl_wire.variables import SetVariablesRequest, VarType
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from noetl_standin.api._http import HttpError, json_response, path_id, read_json, validate
from noetl_standin.core import ControlPlane

__all__ = ["routes"]

_VAR_TYPES = {member.value for member in VarType}


async def list_vars(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    execution_id = path_id(request, "execution_id")
    variables = await plane.store.variables(execution_id)
    return json_response(
        {
            "execution_id": execution_id,
            "count": len(variables),
            "variables": {name: record.to_json() for name, record in variables.items()},
        }
    )


async def get_var(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    execution_id = path_id(request, "execution_id")
    name = str(request.path_params["var_name"])
    record = await plane.store.read_variable(execution_id, name, time.time())
    if record is None:
        raise HttpError(404, f"Variable '{name}' not found for execution {execution_id}")
    return json_response({"execution_id": execution_id, "var_name": name, **record.to_json()})


async def set_vars(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    execution_id = path_id(request, "execution_id")
    raw = await read_json(request)
    # The server answers 400 (not 422) for an empty map or an unknown type; 422 only when the key is missing.
    if isinstance(raw, dict):
        if isinstance(raw.get("variables"), dict) and not raw["variables"]:
            raise HttpError(400, "variables must not be empty")
        if "var_type" in raw and raw["var_type"] not in _VAR_TYPES:
            raise HttpError(400, f"Invalid var_type {raw['var_type']!r}; expected one of {sorted(_VAR_TYPES)}")
    body = validate(SetVariablesRequest, raw)
    await plane.store.set_variables(execution_id, body.variables, body.var_type.value, body.source_step, time.time())
    names = list(body.variables)
    return json_response({"execution_id": execution_id, "variables_set": len(names), "var_names": names})


async def delete_var(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    execution_id = path_id(request, "execution_id")
    name = str(request.path_params["var_name"])
    deleted = await plane.store.delete_variable(execution_id, name)
    if not deleted:
        raise HttpError(404, f"Variable '{name}' not found for execution {execution_id}")
    return json_response({"execution_id": execution_id, "var_name": name, "deleted": True})


async def delete_vars(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    execution_id = path_id(request, "execution_id")
    count = await plane.store.delete_variables(execution_id)
    return json_response({"execution_id": execution_id, "deleted_count": count})


routes = [
    Route("/api/vars/{execution_id}", list_vars, methods=["GET"]),
    Route("/api/vars/{execution_id}", set_vars, methods=["POST"]),
    Route("/api/vars/{execution_id}", delete_vars, methods=["DELETE"]),
    Route("/api/vars/{execution_id}/{var_name}", get_var, methods=["GET"]),
    Route("/api/vars/{execution_id}/{var_name}", delete_var, methods=["DELETE"]),
]
