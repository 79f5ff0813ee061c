"""Worker registry: ``POST /api/worker/pool/{register,heartbeat,deregister}``.

A worker registers with ``name`` equal to its worker id and keeps the heartbeat fresh; the claim
lease rules consult this registry, so an unregistered or stale worker's claims can be taken over.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from noetl_wire._base import WireModel

__all__ = [
    "DeregisterRequest",
    "DeregisterResponse",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "RegisterResponse",
    "WorkerRegistration",
]


class WorkerRegistration(WireModel):
    """Body of ``register`` (and the optional ``registration`` of a heartbeat). ``status`` is lower-cased."""

    name: str = Field(min_length=1)
    component_type: str | None = "worker_pool"
    runtime: str | None = None
    status: str = "ready"
    capacity: int | None = Field(default=None, ge=0)
    labels: dict[str, Any] | None = None
    pid: int | None = None
    hostname: str | None = None
    meta: dict[str, Any] | None = None
    uri: str | None = None
    base_url: str | None = None

    @field_validator("status")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class RegisterResponse(WireModel):
    status: str = "ok"
    name: str
    runtime_id: str
    kind: str = "worker_pool"
    runtime: str | None = None


class HeartbeatRequest(WireModel):
    name: str = Field(min_length=1)
    registration: WorkerRegistration | None = None


class HeartbeatResponse(WireModel):
    """``status`` is ``ok``, or ``recreated`` when a missing row was re-created from ``registration``."""

    status: str
    name: str
    runtime_id: str | None = None


class DeregisterRequest(WireModel):
    name: str = Field(min_length=1)
    component_type: str | None = None


class DeregisterResponse(WireModel):
    status: str = "ok"
    name: str
