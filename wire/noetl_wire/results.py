"""Result store: ``PUT /api/result/{execution_id}``, ``GET /api/result/resolve?ref=`` and references.

A worker stores a large tool result and embeds only a ``ResultReference`` in ``call.done``'s
``payload.result.reference``. References are URIs ``noetl://execution/<eid>/result/<name>/<id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from noetl_wire._base import OpenWireModel, WireModel
from noetl_wire.ids import coerce_snowflake

__all__ = [
    "RESULT_URI_PREFIX",
    "ResultPutRequest",
    "ResultPutResponse",
    "ResultReference",
    "ResultScope",
    "ResultUri",
    "StoreTier",
    "build_result_uri",
    "parse_result_uri",
]

RESULT_URI_PREFIX = "noetl://execution/"


class ResultScope(StrEnum):
    STEP = "step"
    EXECUTION = "execution"
    WORKFLOW = "workflow"
    PERMANENT = "permanent"


class StoreTier(StrEnum):
    MEMORY = "memory"
    KV = "kv"
    DISK = "disk"
    S3 = "s3"
    GCS = "gcs"
    DB = "db"
    DUCKDB = "duckdb"
    EVENTLOG = "eventlog"


class ResultPutRequest(WireModel):
    """Body of ``PUT /api/result/{execution_id}``. ``data`` is required but may be JSON null."""

    name: str = Field(min_length=1)
    data: Any
    scope: ResultScope = ResultScope.EXECUTION
    store: StoreTier | None = None
    ttl: str | int | None = None
    source_step: str | None = None
    correlation: dict[str, Any] | None = None
    extracted: dict[str, Any] | None = None
    compress: bool = False


class ResultPutResponse(WireModel):
    ref: str
    store: str
    scope: str
    expires_at: str | None = None
    bytes: int = 0
    sha256: str | None = None


class ResultReference(OpenWireModel):
    """The object a worker puts in ``payload.result.reference`` (extra keys such as ``ipc`` kept)."""

    kind: Literal["result_ref"] = "result_ref"
    ref: str
    store: str | None = None
    scope: str | None = None
    expires_at: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResultUri:
    """The parts of ``noetl://execution/<execution_id>/result/<name>/<id>``."""

    execution_id: int
    name: str
    id: str

    def __str__(self) -> str:
        return build_result_uri(self.execution_id, self.name, self.id)


def build_result_uri(execution_id: int, name: str, result_id: str | int) -> str:
    """Build a result reference URI; ``name`` must be non-empty and ``result_id`` must not contain '/'."""
    if not name:
        raise ValueError("result name must not be empty")
    rid = str(result_id)
    if not rid or "/" in rid:
        raise ValueError(f"result id must be a non-empty string without '/', got {rid!r}")
    return f"{RESULT_URI_PREFIX}{int(execution_id)}/result/{name}/{rid}"


def parse_result_uri(uri: str) -> ResultUri:
    """Split a result reference URI into its parts, or raise ``ValueError`` saying what is wrong."""
    if not isinstance(uri, str) or not uri.startswith(RESULT_URI_PREFIX):
        raise ValueError(f"result ref must start with {RESULT_URI_PREFIX!r}, got {uri!r}")
    rest = uri[len(RESULT_URI_PREFIX) :]
    eid_text, sep, tail = rest.partition("/result/")
    if not sep:
        raise ValueError(f"result ref must look like noetl://execution/<eid>/result/<name>/<id>, got {uri!r}")
    try:
        execution_id = coerce_snowflake(eid_text)
    except ValueError as exc:
        raise ValueError(f"result ref execution id {exc}") from None
    name, slash, result_id = tail.rpartition("/")
    if not slash or not name or not result_id:
        raise ValueError(f"result ref must end with /<name>/<id>, got {uri!r}")
    return ResultUri(execution_id=execution_id, name=name, id=result_id)
