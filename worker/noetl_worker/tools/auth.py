"""Auth aliases: turn ``auth: "<alias>"`` (or ``credential: "<alias>"``) into tool config and secrets.

This is the Rust worker's keychain alias resolution (rust-worker-reference.md §7, with the v5.11 follow-ups):
only a *string* alias triggers a lookup, ``GET /api/credentials/{alias}?include_data=true&execution_id=…``
through :class:`ControlPlaneAccess`; the credential's ``type`` decides the mapping:

* ``postgres`` — connection fields are copied into the flat config (never overwriting explicit keys);
* ``bearer``/``bearer_token``, ``api_key``, ``basic`` — ``auth`` becomes the structured object the http tool
  understands and the secret value goes into ``secrets[alias]`` (never into the config);
* ``nats`` — an extension over the reference: ``auth`` becomes ``{type: nats, credential: alias}`` and the
  credential data (``{url, user?, password?, token?}``) is stored as the JSON secret the nats tool reads.

The executor calls :func:`resolve_auth` before running the tool; ``task_sequence`` calls it per sub-task.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools.base import ControlPlaneAccess, ToolError

__all__ = ["ALIAS_KEYS", "SUPPORTED_TYPES", "AuthResolution", "AuthResolutionError", "resolve_auth"]

ALIAS_KEYS = ("auth", "credential")
SUPPORTED_TYPES = ("postgres", "bearer", "bearer_token", "api_key", "basic", "nats")

# config key -> credential data keys, first present wins (db_* as the NoETL keychain stores them).
_POSTGRES_FIELDS: dict[str, tuple[str, ...]] = {
    "host": ("db_host", "host"),
    "port": ("db_port", "port"),
    "user": ("db_user", "user", "username"),
    "password": ("db_password", "password"),
    "database": ("db_name", "database", "dbname"),
}


class AuthResolutionError(ToolError):
    """An auth alias could not be resolved (unknown alias, unsupported type, malformed credential)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Authentication error: {message}")


@dataclass(slots=True)
class AuthResolution:
    """The tool config after alias resolution, and the secrets the alias contributed (by alias name)."""

    config: JSONObject
    secrets: dict[str, str] = field(default_factory=dict)


def _first_text(data: Mapping[str, JSONValue], *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if value is not None and value != "":
            return value if isinstance(value, str) else json.dumps(value)
    return ""


async def resolve_auth(
    config: Mapping[str, JSONValue], *, control_plane: ControlPlaneAccess | None, execution_id: int
) -> AuthResolution:
    """Resolve a string ``auth``/``credential`` alias in ``config``; other configs come back unchanged."""
    resolved: JSONObject = dict(config)
    alias_key = next((key for key in ALIAS_KEYS if isinstance(resolved.get(key), str) and resolved[key]), None)
    if alias_key is None:
        return AuthResolution(resolved)
    alias = str(resolved[alias_key])
    for key in ALIAS_KEYS:
        if isinstance(resolved.get(key), str):
            del resolved[key]
    if control_plane is None:
        raise AuthResolutionError(f"Credential alias '{alias}' cannot be resolved: no control plane is configured")
    try:
        credential = await control_plane.get_credential(alias, execution_id)
    except LookupError:
        credential = None
    except Exception as exc:  # transport or HTTP failure of whatever client implements the protocol
        raise AuthResolutionError(f"Credential alias '{alias}' lookup failed: {type(exc).__name__}: {exc}") from None
    if credential is None:
        raise AuthResolutionError(
            f"Credential alias '{alias}' not found in keychain (server returned 404 for /api/credentials/{alias})"
        )
    raw_data = credential.get("data")
    if not isinstance(raw_data, dict):
        raise AuthResolutionError(f"Credential alias '{alias}' has no data object (was include_data honoured?)")
    data: JSONObject = raw_data
    kind = str(credential.get("type") or "").strip().lower()
    secrets: dict[str, str] = {}
    if kind == "postgres":
        for target, sources in _POSTGRES_FIELDS.items():
            if resolved.get(target) is not None:
                continue  # an explicit key in the step wins over the keychain
            value = next((data[s] for s in sources if data.get(s) is not None and data.get(s) != ""), None)
            if value is None:
                continue
            if target == "port":
                value = _port(alias, value)
            resolved[target] = value
    elif kind in {"bearer", "bearer_token"}:
        resolved["auth"] = {"type": "bearer", "credential": alias}
        secrets[alias] = _first_text(data, "token", "access_token", "bearer_token")
    elif kind == "api_key":
        resolved["auth"] = {
            "type": "api_key",
            "credential": alias,
            "header": _first_text(data, "header") or "X-API-Key",
        }
        secrets[alias] = _first_text(data, "api_key", "key", "token")
    elif kind == "basic":
        resolved["auth"] = {"type": "basic", "credential": alias, "username": _first_text(data, "username", "user")}
        secrets[alias] = _first_text(data, "password", "db_password")
    elif kind == "nats":
        resolved["auth"] = {"type": "nats", "credential": alias}
        secrets[alias] = json.dumps(data)
    else:
        raise AuthResolutionError(
            f"Credential alias '{alias}' has unsupported type '{kind or '<none>'}'. "
            f"Supported types: {', '.join(SUPPORTED_TYPES)}"
        )
    return AuthResolution(resolved, secrets)


def _port(alias: str, value: JSONValue) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise AuthResolutionError(f"Credential alias '{alias}' has an invalid port: {value!r}")
    return port
