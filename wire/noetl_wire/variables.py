"""Execution variables: ``/api/vars/{execution_id}[/{var_name}]``.

The body of ``POST`` is ``{"variables": {...}}`` (the seed Rust worker's bare ``{name: value}`` is
rejected by the server with 422).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from noetl_wire._base import WireModel
from noetl_wire.ids import Snowflake

__all__ = [
    "DeleteVariableResponse",
    "DeleteVariablesResponse",
    "SetVariablesRequest",
    "SetVariablesResponse",
    "VarType",
    "VariableEntry",
    "VariableResponse",
    "VariablesResponse",
]


class VarType(StrEnum):
    USER_DEFINED = "user_defined"
    STEP_RESULT = "step_result"
    COMPUTED = "computed"
    ITERATOR_STATE = "iterator_state"


class SetVariablesRequest(WireModel):
    """``POST /api/vars/{execution_id}``. Same-name variables are overwritten."""

    variables: dict[str, Any]
    var_type: VarType = VarType.USER_DEFINED
    source_step: str | None = None


class SetVariablesResponse(WireModel):
    execution_id: Snowflake
    variables_set: int
    var_names: list[str]


class VariableEntry(WireModel):
    """One variable as listed by ``GET /api/vars/{execution_id}``."""

    value: Any = None
    type: str = VarType.USER_DEFINED.value
    source_step: str | None = None
    created_at: str | None = None
    accessed_at: str | None = None
    access_count: int = 0


class VariablesResponse(WireModel):
    execution_id: Snowflake
    count: int
    variables: dict[str, VariableEntry] = Field(default_factory=dict)


class VariableResponse(VariableEntry):
    """``GET /api/vars/{execution_id}/{var_name}`` (reading it increments ``access_count``)."""

    execution_id: Snowflake
    var_name: str


class DeleteVariableResponse(WireModel):
    execution_id: Snowflake
    var_name: str
    deleted: bool


class DeleteVariablesResponse(WireModel):
    execution_id: Snowflake
    deleted_count: int
