"""The stand-in's persisted state as plain records: what a NoETL server keeps in its tables.

These mirror the server's tables (``noetl.command``, ``noetl.event``, ``noetl.runtime``,
``noetl.transient``, ``noetl.credential``, ``noetl.keychain``, result refs) closely enough that a
PostgreSQL-backed store could map them one to one. Timestamps are Unix seconds (wall clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "TERMINAL_COMMAND_STATUSES",
    "TERMINAL_EXECUTION_EVENTS",
    "BatchRecord",
    "ClaimOutcome",
    "CommandRecord",
    "CommandStatus",
    "CredentialRecord",
    "EventRecord",
    "KeychainRecord",
    "LeasePolicy",
    "ResultRecord",
    "VariableRecord",
    "WorkerRecord",
    "iso",
]


def iso(timestamp: float | None) -> str | None:
    """ISO-8601 UTC rendering of a Unix timestamp (None stays None)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


class CommandStatus(StrEnum):
    PENDING = "PENDING"
    CLAIMED = "CLAIMED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL_COMMAND_STATUSES = frozenset({CommandStatus.COMPLETED, CommandStatus.FAILED, CommandStatus.CANCELLED})
# An execution with any of these events is over: its commands can no longer be claimed.
TERMINAL_EXECUTION_EVENTS = frozenset(
    {
        "playbook.completed",
        "playbook.failed",
        "workflow.completed",
        "workflow.failed",
        "execution.cancelled",
    }
)


@dataclass(slots=True)
class CommandRecord:
    """A row of ``noetl.command``, keyed by ``event_id`` (the ``command.issued`` event)."""

    command_id: int
    event_id: int
    execution_id: int
    catalog_id: int
    step: str
    tool_kind: str
    context: dict[str, Any]
    meta: dict[str, Any]
    created_at: float
    status: CommandStatus = CommandStatus.PENDING
    worker_id: str | None = None
    attempt: int = 1
    claimed_at: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    updated_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    latest_event_id: int | None = None
    pool: str = "shared"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_COMMAND_STATUSES

    def to_json(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "event_id": self.event_id,
            "execution_id": self.execution_id,
            "step_name": self.step,
            "tool_kind": self.tool_kind,
            "status": self.status.value,
            "worker_id": self.worker_id,
            "attempt": self.attempt,
            "meta": self.meta,
            "result": self.result,
            "error": self.error,
            "created_at": iso(self.created_at),
            "claimed_at": iso(self.claimed_at),
            "started_at": iso(self.started_at),
            "completed_at": iso(self.completed_at),
            "latest_event_id": self.latest_event_id,
        }


@dataclass(slots=True)
class EventRecord:
    """A row of ``noetl.event``."""

    event_id: int
    execution_id: int
    event_type: str
    node_name: str
    status: str
    created_at: float
    payload: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] | None = None
    worker_id: str | None = None
    command_id: int | str | None = None
    actionable: bool = False
    informative: bool = True
    source: Literal["server", "single", "batch"] = "server"
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "execution_id": self.execution_id,
            "event_type": self.event_type,
            "node_name": self.node_name,
            "status": self.status,
            "payload": self.payload,
            "meta": self.meta,
            "worker_id": self.worker_id,
            "command_id": self.command_id,
            "actionable": self.actionable,
            "informative": self.informative,
            "source": self.source,
            "error": self.error,
            "created_at": iso(self.created_at),
        }


@dataclass(slots=True)
class WorkerRecord:
    """A row of ``noetl.runtime`` (kind ``worker_pool``); ``name`` is the worker id."""

    name: str
    runtime_id: str
    heartbeat: float
    registered_at: float
    runtime: str | None = None
    status: str = "ready"
    capacity: int | None = None
    labels: dict[str, Any] | None = None
    pid: int | None = None
    hostname: str | None = None
    meta: dict[str, Any] | None = None

    def to_json(self, *, now: float, offline_after: float) -> dict[str, Any]:
        # The server's sweeper marks silent rows offline; computing it on read gives the same answer.
        status = "offline" if now - self.heartbeat > offline_after else self.status
        return {
            "name": self.name,
            "runtime_id": self.runtime_id,
            "kind": "worker_pool",
            "runtime": self.runtime,
            "status": status,
            "capacity": self.capacity,
            "labels": self.labels,
            "pid": self.pid,
            "hostname": self.hostname,
            "meta": self.meta,
            "heartbeat": iso(self.heartbeat),
            "created_at": iso(self.registered_at),
        }


@dataclass(slots=True)
class VariableRecord:
    value: Any
    type: str
    source_step: str | None
    created_at: float
    accessed_at: float | None = None
    access_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "type": self.type,
            "source_step": self.source_step,
            "created_at": iso(self.created_at),
            "accessed_at": iso(self.accessed_at),
            "access_count": self.access_count,
        }


@dataclass(slots=True)
class ResultRecord:
    ref: str
    execution_id: int
    name: str
    data: Any
    scope: str
    store: str
    bytes: int
    sha256: str
    created_at: float
    expires_at: float | None = None
    source_step: str | None = None
    correlation: dict[str, Any] | None = None
    extracted: dict[str, Any] | None = None


@dataclass(slots=True)
class CredentialRecord:
    id: int
    name: str
    type: str
    data: dict[str, Any]
    created_at: float
    updated_at: float
    meta: dict[str, Any] | None = None
    tags: list[str] | None = None
    description: str | None = None

    def to_json(self, *, include_data: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "type": self.type,
            "meta": self.meta,
            "tags": self.tags,
            "description": self.description,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if include_data:
            body["data"] = self.data
        return body


@dataclass(slots=True)
class KeychainRecord:
    cache_key: str
    keychain_name: str
    catalog_id: int
    token_data: dict[str, Any]
    credential_type: str
    cache_type: str
    scope_type: str
    created_at: float
    execution_id: int | None = None
    expires_at: float | None = None
    auto_renew: bool = False
    renew_config: dict[str, Any] | None = None
    accessed_at: float | None = None
    access_count: int = 0


@dataclass(slots=True)
class BatchRecord:
    """An accepted ``/api/events/batch`` request and its processing state."""

    request_id: str
    execution_id: int
    idempotency_key: str | None
    event_ids: list[int]
    updated_at: float
    state: str = "accepted"
    status: str = "ACCEPTED"
    error_code: str | None = None
    message: str | None = None
    commands_generated: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "execution_id": str(self.execution_id),
            "state": self.state,
            "status": self.status,
            "error_code": self.error_code,
            "message": self.message,
            "commands_generated": self.commands_generated,
            "idempotency_key": self.idempotency_key,
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """The claim lease rules' timers (seconds)."""

    lease_seconds: float
    heartbeat_stale_seconds: float
    hard_timeout_seconds: float


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """What a claim attempt did. ``kind`` decides the HTTP answer."""

    kind: Literal["claimed", "reclaimed", "idempotent", "not_found", "active_claim", "already_terminal"]
    command: CommandRecord | None = None
    holder: str | None = None
    reason: str | None = None
    claim_event: EventRecord | None = None
