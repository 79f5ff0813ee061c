"""Credentials (``/api/credentials``) and the keychain (``/api/keychain/{catalog_id}/{name}``).

Tests seed credentials with ``POST /api/credentials``; workers read them with ``include_data=true``.
Credential data is stored as given (the server's own "encryption" at this revision is a placeholder).
"""

from __future__ import annotations

import time
from typing import Any

from noetl_wire.credentials import CredentialCreate
from noetl_wire.keychain import KeychainPutRequest, KeychainScope, KeychainStatus, keychain_cache_key
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from noetl_standin.api._http import HttpError, json_response, path_id, query_bool, query_id, read_json, validate
from noetl_standin.core import ControlPlane
from noetl_standin.records import CredentialRecord, KeychainRecord, iso

__all__ = ["routes"]


async def create_credential(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    body = validate(CredentialCreate, await read_json(request))
    now = time.time()
    record = await plane.store.put_credential(
        CredentialRecord(
            id=plane.store.new_id(),
            name=body.name,
            type=body.type,
            data=body.data,
            created_at=now,
            updated_at=now,
            meta=body.meta,
            tags=body.tags,
            description=body.description,
        )
    )
    return json_response(record.to_json(include_data=False))


async def get_credential(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    include_data = query_bool(request, "include_data")
    for name in ("catalog_id", "execution_id", "parent_execution_id"):
        query_id(request, name)  # validated like the server; the stand-in keeps no catalog to cache against
    record = await plane.store.get_credential(str(request.path_params["identifier"]))
    if record is None:
        raise HttpError(404, "Credential not found")
    return json_response(record.to_json(include_data=include_data))


def _scope(request: Request, raw: str | None) -> KeychainScope:
    try:
        return KeychainScope(raw or "global")
    except ValueError:
        raise HttpError(
            422,
            [
                {
                    "type": "enum",
                    "loc": ["query", "scope_type"],
                    "msg": "Input should be 'global', 'local' or 'shared'",
                    "input": raw,
                }
            ],
        ) from None


def _cache_key(name: str, catalog_id: int, scope: KeychainScope, execution_id: int | None) -> str:
    try:
        return keychain_cache_key(name, catalog_id, scope, execution_id)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


async def get_keychain(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    catalog_id = path_id(request, "catalog_id")
    name = str(request.path_params["keychain_name"])
    scope = _scope(request, request.query_params.get("scope_type"))
    key = _cache_key(name, catalog_id, scope, query_id(request, "execution_id"))
    now = time.time()
    entry = await plane.store.get_keychain(key, now)
    body: dict[str, Any] = {"keychain_name": name, "catalog_id": catalog_id, "cache_key": key}
    if entry is None:
        return json_response({**body, "status": KeychainStatus.NOT_FOUND.value, "token_data": None})
    expired = entry.expires_at is not None and entry.expires_at <= now
    return json_response(
        {
            **body,
            "status": (KeychainStatus.EXPIRED if expired else KeychainStatus.SUCCESS).value,
            "token_data": None if expired else entry.token_data,
            "credential_type": entry.credential_type,
            "cache_type": entry.cache_type,
            "scope_type": entry.scope_type,
            "expires_at": iso(entry.expires_at),
            "ttl_seconds": None if entry.expires_at is None else max(0.0, entry.expires_at - now),
            "accessed_at": iso(entry.accessed_at),
            "access_count": entry.access_count,
            "auto_renew": entry.auto_renew,
            "renew_config": entry.renew_config,
            "expired": expired,
        }
    )


async def put_keychain(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    catalog_id = path_id(request, "catalog_id")
    name = str(request.path_params["keychain_name"])
    body = validate(KeychainPutRequest, await read_json(request))
    key = _cache_key(name, catalog_id, body.scope_type, body.execution_id)
    now = time.time()
    expires_at = now + body.ttl_seconds if body.ttl_seconds is not None else None
    await plane.store.put_keychain(
        KeychainRecord(
            cache_key=key,
            keychain_name=name,
            catalog_id=catalog_id,
            token_data=body.token_data,
            credential_type=body.credential_type,
            cache_type=body.cache_type,
            scope_type=body.scope_type.value,
            created_at=now,
            execution_id=body.execution_id,
            expires_at=expires_at,
            auto_renew=body.auto_renew,
            renew_config=body.renew_config,
        )
    )
    return json_response(
        {
            "status": "success",
            "message": f"Keychain entry {name!r} stored",
            "keychain_name": name,
            "catalog_id": catalog_id,
            "cache_key": key,
            "expires_at": iso(expires_at),
            "ttl_seconds": body.ttl_seconds,
            "auto_renew": body.auto_renew,
        }
    )


async def delete_keychain(request: Request) -> Response:
    plane: ControlPlane = request.app.state.plane
    catalog_id = path_id(request, "catalog_id")
    name = str(request.path_params["keychain_name"])
    scope = _scope(request, request.query_params.get("scope_type"))
    key = _cache_key(name, catalog_id, scope, query_id(request, "execution_id"))
    deleted = await plane.store.delete_keychain(key)
    return json_response({"status": "success" if deleted else "not_found", "cache_key": key, "deleted": deleted})


routes = [
    Route("/api/credentials", create_credential, methods=["POST"]),
    Route("/api/credentials/{identifier}", get_credential, methods=["GET"]),
    Route("/api/keychain/{catalog_id}/{keychain_name}", get_keychain, methods=["GET"]),
    Route("/api/keychain/{catalog_id}/{keychain_name}", put_keychain, methods=["POST"]),
    Route("/api/keychain/{catalog_id}/{keychain_name}", delete_keychain, methods=["DELETE"]),
]
