"""Credentials: ``GET /api/credentials/{name_or_id}?include_data=true`` and ``POST /api/credentials``."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, field_validator

from noetl_wire._base import WireModel

__all__ = ["Credential", "CredentialCreate"]


class Credential(WireModel):
    """A credential as the server returns it; ``data`` only with ``include_data=true``. ``id`` is a string."""

    id: str
    name: str
    type: str
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    tags: list[str] | None = None
    description: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class CredentialCreate(WireModel):
    """``POST /api/credentials``; ``tags`` may be a list or a comma-separated string."""

    name: str = Field(min_length=1)
    type: str = Field(default="generic", validation_alias=AliasChoices("type", "credential_type"))
    data: dict[str, Any]
    meta: dict[str, Any] | None = None
    tags: list[str] | None = None
    description: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, value: object) -> object:
        if isinstance(value, str):
            return [tag.strip() for tag in value.split(",") if tag.strip()]
        return value
