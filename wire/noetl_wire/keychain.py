"""Keychain: ``GET``/``POST`` ``/api/keychain/{catalog_id}/{keychain_name}``.

``GET`` always answers 200; whether an entry exists is in ``status`` (success | not_found | expired).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from noetl_wire._base import WireModel
from noetl_wire.ids import Snowflake

__all__ = [
    "KeychainEntry",
    "KeychainPutRequest",
    "KeychainPutResponse",
    "KeychainScope",
    "KeychainStatus",
    "keychain_cache_key",
]


class KeychainStatus(StrEnum):
    SUCCESS = "success"
    NOT_FOUND = "not_found"
    EXPIRED = "expired"


class KeychainScope(StrEnum):
    GLOBAL = "global"
    LOCAL = "local"
    SHARED = "shared"


def keychain_cache_key(name: str, catalog_id: int, scope_type: KeychainScope, execution_id: int | None) -> str:
    """The server's cache key: ``<name>:<catalog>:global``, ``...:<eid>`` (local), ``...:shared:<eid>``."""
    if scope_type is KeychainScope.GLOBAL:
        return f"{name}:{catalog_id}:global"
    if execution_id is None:
        raise ValueError(f"keychain scope {scope_type.value!r} needs an execution_id")
    if scope_type is KeychainScope.LOCAL:
        return f"{name}:{catalog_id}:{execution_id}"
    return f"{name}:{catalog_id}:shared:{execution_id}"


class KeychainEntry(WireModel):
    """Body of ``GET /api/keychain/{catalog_id}/{name}``."""

    status: KeychainStatus
    keychain_name: str
    catalog_id: Snowflake
    cache_key: str | None = None
    token_data: dict[str, Any] | None = None
    credential_type: str | None = None
    cache_type: str | None = None
    scope_type: str | None = None
    expires_at: str | None = None
    ttl_seconds: float | None = None
    accessed_at: str | None = None
    access_count: int | None = None
    auto_renew: bool | None = None
    renew_config: dict[str, Any] | None = None
    expired: bool | None = None


class KeychainPutRequest(WireModel):
    """Body of ``POST /api/keychain/{catalog_id}/{name}``."""

    token_data: dict[str, Any]
    credential_type: str
    cache_type: str = "token"
    scope_type: KeychainScope = KeychainScope.GLOBAL
    execution_id: Snowflake | None = None
    parent_execution_id: Snowflake | None = None
    ttl_seconds: float | None = None
    expires_at: str | None = None
    auto_renew: bool = False
    renew_config: dict[str, Any] | None = None


class KeychainPutResponse(WireModel):
    status: str
    message: str | None = None
    keychain_name: str
    catalog_id: Snowflake
    cache_key: str
    expires_at: str | None = None
    ttl_seconds: float | None = None
    auto_renew: bool = False
