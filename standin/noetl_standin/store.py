"""The storage interface of the stand-in.

Handlers and the engine talk only to ``Store``; ``MemoryStore`` (``noetl_standin.memory``) is the
implementation used today. Operations that must be atomic on a real server (a claim, writing a
batch of events together with the command projection) are single methods here, so a PostgreSQL
store can run each in one transaction without any handler changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from noetl_standin.records import (
    BatchRecord,
    ClaimOutcome,
    CommandRecord,
    CredentialRecord,
    EventRecord,
    KeychainRecord,
    LeasePolicy,
    ResultRecord,
    VariableRecord,
    WorkerRecord,
)

__all__ = ["Store"]


class Store(Protocol):
    """Persistence for commands, events, the worker registry, variables, results, credentials, keychain."""

    def new_id(self) -> int:
        """A fresh snowflake id (events, commands, executions, requests)."""
        ...

    # -- commands --------------------------------------------------------------------------------------
    async def issue_command(self, command: CommandRecord, issued: EventRecord) -> None:
        """Persist a new PENDING command together with its ``command.issued`` event."""
        ...

    async def get_command(self, event_id: int) -> CommandRecord | None: ...

    async def command_by_id(self, command_id: int | str) -> CommandRecord | None: ...

    async def commands(self, execution_id: int | None = None) -> list[CommandRecord]: ...

    async def active_commands(self) -> list[CommandRecord]:
        """Commands not yet terminal (for re-publication and the reaper)."""
        ...

    async def claim(
        self, event_id: int, worker_id: str, locality: dict[str, Any] | None, *, now: float, policy: LeasePolicy
    ) -> ClaimOutcome:
        """Arbitrate a claim atomically; on success write ``command.claimed`` and mark the row CLAIMED."""
        ...

    # -- events ----------------------------------------------------------------------------------------
    async def append_events(self, events: Sequence[EventRecord], *, now: float) -> None:
        """Append events atomically and apply the command projection for each."""
        ...

    async def find_event(
        self, execution_id: int, event_type: str, node_name: str, command_id: int | str, *, source: str | None = None
    ) -> EventRecord | None:
        """The first event with this identity (dedupe); ``source`` restricts to one ingestion path."""
        ...

    async def events(
        self, execution_id: int | None = None, *, after_event_id: int | None = None
    ) -> list[EventRecord]: ...

    async def execution_terminal(self, execution_id: int) -> bool: ...

    # -- batches ---------------------------------------------------------------------------------------
    async def batch_by_key(self, execution_id: int, idempotency_key: str) -> BatchRecord | None: ...

    async def save_batch(self, batch: BatchRecord) -> None: ...

    async def get_batch(self, request_id: str) -> BatchRecord | None: ...

    # -- worker registry -------------------------------------------------------------------------------
    async def upsert_worker(self, worker: WorkerRecord) -> WorkerRecord:
        """Insert or update by name (keeping ``runtime_id`` and ``registered_at`` of an existing row)."""
        ...

    async def get_worker(self, name: str) -> WorkerRecord | None: ...

    async def touch_worker(self, name: str, now: float) -> WorkerRecord | None:
        """Refresh a heartbeat; None when the worker is not registered."""
        ...

    async def set_worker_status(self, name: str, status: str, now: float) -> WorkerRecord | None: ...

    async def workers(self) -> list[WorkerRecord]: ...

    # -- variables -------------------------------------------------------------------------------------
    async def set_variables(
        self, execution_id: int, values: dict[str, Any], var_type: str, source_step: str | None, now: float
    ) -> None: ...

    async def variables(self, execution_id: int) -> dict[str, VariableRecord]: ...

    async def read_variable(self, execution_id: int, name: str, now: float) -> VariableRecord | None:
        """Return the variable and count the access (``access_count``/``accessed_at``)."""
        ...

    async def delete_variable(self, execution_id: int, name: str) -> bool: ...

    async def delete_variables(self, execution_id: int) -> int: ...

    # -- results ---------------------------------------------------------------------------------------
    async def put_result(self, result: ResultRecord) -> None: ...

    async def get_result(self, ref: str) -> ResultRecord | None: ...

    async def latest_result(self, execution_id: int, step: str) -> ResultRecord | None: ...

    # -- credentials and keychain ----------------------------------------------------------------------
    async def put_credential(self, credential: CredentialRecord) -> CredentialRecord:
        """Insert, or replace the row with the same name (keeping its id and ``created_at``)."""
        ...

    async def get_credential(self, identifier: str) -> CredentialRecord | None:
        """By id when ``identifier`` is all digits, else by name."""
        ...

    async def put_keychain(self, entry: KeychainRecord) -> None: ...

    async def get_keychain(self, cache_key: str, now: float) -> KeychainRecord | None: ...

    async def delete_keychain(self, cache_key: str) -> bool: ...

    async def keychain_for_catalog(self, catalog_id: int) -> list[KeychainRecord]: ...
