"""``MemoryStore``: the in-memory ``Store``.

Every method body runs without awaiting, so on one event loop each call is atomic, which is what
the claim and the batch write need. Indexes keep the hot paths (claim, event append, projection,
re-publication scan) O(1) or O(active commands), not O(history).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from noetl_wire.snowflake import SnowflakeGenerator

from noetl_standin.claims import decide_claim
from noetl_standin.projection import apply_event
from noetl_standin.records import (
    TERMINAL_EXECUTION_EVENTS,
    BatchRecord,
    ClaimOutcome,
    CommandRecord,
    CommandStatus,
    CredentialRecord,
    EventRecord,
    KeychainRecord,
    LeasePolicy,
    ResultRecord,
    VariableRecord,
    WorkerRecord,
)

__all__ = ["MemoryStore"]

# The stand-in's snowflake node id; real servers use Postgres-generated ids, workers hash their id.
STANDIN_NODE_ID = 1023


class MemoryStore:
    """All state in dictionaries; suitable for tests, benchmarks and local development."""

    def __init__(self, ids: SnowflakeGenerator | None = None, *, event_log_limit: int | None = None) -> None:
        """``event_log_limit`` bounds memory on long runs: the oldest events beyond it are forgotten
        (they leave the read-outs and the dedupe index; commands and their projection are kept)."""
        self._ids = ids or SnowflakeGenerator(STANDIN_NODE_ID)
        self._event_log_limit = event_log_limit
        self._commands: dict[int, CommandRecord] = {}
        self._commands_by_id: dict[int | str, CommandRecord] = {}
        self._active: dict[int, CommandRecord] = {}
        self._events: deque[EventRecord] = deque()
        self._events_by_execution: dict[int, deque[EventRecord]] = defaultdict(deque)
        self._dedupe: dict[tuple[str, int, str, str, int | str], EventRecord] = {}
        self._terminal_executions: set[int] = set()
        self._batches: dict[str, BatchRecord] = {}
        self._batch_keys: dict[tuple[int, str], str] = {}
        self._workers: dict[str, WorkerRecord] = {}
        self._variables: dict[int, dict[str, VariableRecord]] = defaultdict(dict)
        self._results: dict[str, ResultRecord] = {}
        self._credentials: dict[str, CredentialRecord] = {}
        self._keychain: dict[str, KeychainRecord] = {}

    def new_id(self) -> int:
        return self._ids.next_id()

    # -- commands --------------------------------------------------------------------------------------
    async def issue_command(self, command: CommandRecord, issued: EventRecord) -> None:
        self._commands[command.event_id] = command
        self._commands_by_id[command.command_id] = command
        self._active[command.event_id] = command
        self._append(issued)

    async def get_command(self, event_id: int) -> CommandRecord | None:
        return self._commands.get(event_id)

    async def command_by_id(self, command_id: int | str) -> CommandRecord | None:
        return self._commands_by_id.get(command_id)

    async def commands(self, execution_id: int | None = None) -> list[CommandRecord]:
        return [c for c in self._commands.values() if execution_id is None or c.execution_id == execution_id]

    async def active_commands(self) -> list[CommandRecord]:
        return list(self._active.values())

    async def claim(
        self, event_id: int, worker_id: str, locality: dict[str, Any] | None, *, now: float, policy: LeasePolicy
    ) -> ClaimOutcome:
        command = self._commands.get(event_id)
        if command is None:
            return ClaimOutcome("not_found")
        holder = self._workers.get(command.worker_id) if command.worker_id else None
        decision = decide_claim(
            command,
            worker_id,
            now=now,
            holder=holder,
            execution_terminal=command.execution_id in self._terminal_executions,
            policy=policy,
        )
        if decision.kind == "idempotent":
            return ClaimOutcome("idempotent", command)
        if decision.kind == "active_claim":
            return ClaimOutcome("active_claim", command, holder=command.worker_id, reason=decision.reason)
        if decision.kind == "already_terminal":
            return ClaimOutcome("already_terminal", command, holder=command.worker_id, reason=decision.reason)
        meta: dict[str, Any] = {
            "command_id": command.command_id,
            "worker_id": worker_id,
            "actionable": False,
            "informative": True,
        }
        if locality:
            meta["locality"] = locality
        previous = command.worker_id
        if decision.kind == "reclaim":
            meta.update(reclaimed=True, reclaimed_from_worker=previous, reclaimed_reason=decision.reason)
            command.attempt += 1
        event = EventRecord(
            event_id=self.new_id(),
            execution_id=command.execution_id,
            event_type="command.claimed",
            node_name=command.step,
            status="RUNNING",
            created_at=now,
            payload={"status": "RUNNING", "context": {"command_id": command.command_id}},
            meta=meta,
            worker_id=worker_id,
            command_id=command.command_id,
        )
        self._append(event)
        command.status = CommandStatus.CLAIMED
        command.worker_id = worker_id
        command.claimed_at = now
        command.started_at = None
        command.updated_at = now
        command.latest_event_id = event.event_id
        kind: Literal["claimed", "reclaimed"] = "reclaimed" if decision.kind == "reclaim" else "claimed"
        return ClaimOutcome(kind, command, holder=previous, reason=decision.reason, claim_event=event)

    # -- events ----------------------------------------------------------------------------------------
    def _append(self, event: EventRecord) -> None:
        self._events.append(event)
        self._events_by_execution[event.execution_id].append(event)
        if event.command_id is not None:
            key = (event.source, event.execution_id, event.event_type, event.node_name, event.command_id)
            self._dedupe.setdefault(key, event)
        if event.event_type in TERMINAL_EXECUTION_EVENTS:
            self._terminal_executions.add(event.execution_id)
        if self._event_log_limit is not None:
            while len(self._events) > self._event_log_limit:
                self._forget(self._events.popleft())

    def _forget(self, event: EventRecord) -> None:
        # Events are appended in order, so the oldest event overall is the oldest of its execution.
        per_execution = self._events_by_execution[event.execution_id]
        per_execution.popleft()
        if not per_execution:
            del self._events_by_execution[event.execution_id]
        if event.command_id is not None:
            key = (event.source, event.execution_id, event.event_type, event.node_name, event.command_id)
            if self._dedupe.get(key) is event:
                del self._dedupe[key]

    async def append_events(self, events: Sequence[EventRecord], *, now: float) -> None:
        for event in events:
            self._append(event)
            if event.command_id is None:
                continue
            command = self._commands_by_id.get(event.command_id)
            changed = command is not None and apply_event(command, event.event_type, event.payload, event.event_id, now)
            if changed and command is not None and command.terminal:
                self._active.pop(command.event_id, None)

    async def find_event(
        self, execution_id: int, event_type: str, node_name: str, command_id: int | str, *, source: str | None = None
    ) -> EventRecord | None:
        sources = (source,) if source is not None else ("batch", "single", "server")
        for candidate in sources:
            found = self._dedupe.get((candidate, execution_id, event_type, node_name, command_id))
            if found is not None:
                return found
        return None

    async def events(self, execution_id: int | None = None, *, after_event_id: int | None = None) -> list[EventRecord]:
        source = self._events if execution_id is None else self._events_by_execution.get(execution_id, deque())
        if after_event_id is None:
            return list(source)
        return [e for e in source if e.event_id > after_event_id]

    async def execution_terminal(self, execution_id: int) -> bool:
        return execution_id in self._terminal_executions

    # -- batches ---------------------------------------------------------------------------------------
    async def batch_by_key(self, execution_id: int, idempotency_key: str) -> BatchRecord | None:
        request_id = self._batch_keys.get((execution_id, idempotency_key))
        return self._batches.get(request_id) if request_id else None

    async def save_batch(self, batch: BatchRecord) -> None:
        self._batches[batch.request_id] = batch
        if batch.idempotency_key:
            self._batch_keys.setdefault((batch.execution_id, batch.idempotency_key), batch.request_id)

    async def get_batch(self, request_id: str) -> BatchRecord | None:
        return self._batches.get(request_id)

    # -- worker registry -------------------------------------------------------------------------------
    async def upsert_worker(self, worker: WorkerRecord) -> WorkerRecord:
        existing = self._workers.get(worker.name)
        if existing is not None:
            worker = replace(worker, runtime_id=existing.runtime_id, registered_at=existing.registered_at)
        self._workers[worker.name] = worker
        return worker

    async def get_worker(self, name: str) -> WorkerRecord | None:
        return self._workers.get(name)

    async def touch_worker(self, name: str, now: float) -> WorkerRecord | None:
        worker = self._workers.get(name)
        if worker is not None:
            worker.heartbeat = now
        return worker

    async def set_worker_status(self, name: str, status: str, now: float) -> WorkerRecord | None:
        worker = self._workers.get(name)
        if worker is not None:
            worker.status = status
        return worker

    async def workers(self) -> list[WorkerRecord]:
        return list(self._workers.values())

    # -- variables -------------------------------------------------------------------------------------
    async def set_variables(
        self, execution_id: int, values: dict[str, Any], var_type: str, source_step: str | None, now: float
    ) -> None:
        bucket = self._variables[execution_id]
        for name, value in values.items():
            bucket[name] = VariableRecord(value=value, type=var_type, source_step=source_step, created_at=now)

    async def variables(self, execution_id: int) -> dict[str, VariableRecord]:
        return dict(self._variables.get(execution_id, {}))

    async def read_variable(self, execution_id: int, name: str, now: float) -> VariableRecord | None:
        record = self._variables.get(execution_id, {}).get(name)
        if record is not None:
            record.access_count += 1
            record.accessed_at = now
        return record

    async def delete_variable(self, execution_id: int, name: str) -> bool:
        return self._variables.get(execution_id, {}).pop(name, None) is not None

    async def delete_variables(self, execution_id: int) -> int:
        return len(self._variables.pop(execution_id, {}))

    # -- results ---------------------------------------------------------------------------------------
    async def put_result(self, result: ResultRecord) -> None:
        self._results[result.ref] = result

    async def get_result(self, ref: str) -> ResultRecord | None:
        return self._results.get(ref)

    async def latest_result(self, execution_id: int, step: str) -> ResultRecord | None:
        matches = [
            r for r in self._results.values() if r.execution_id == execution_id and step in (r.name, r.source_step)
        ]
        return max(matches, key=lambda r: r.created_at, default=None)

    # -- credentials and keychain ----------------------------------------------------------------------
    async def put_credential(self, credential: CredentialRecord) -> CredentialRecord:
        existing = self._credentials.get(credential.name)
        if existing is not None:
            credential = replace(credential, id=existing.id, created_at=existing.created_at)
        self._credentials[credential.name] = credential
        return credential

    async def get_credential(self, identifier: str) -> CredentialRecord | None:
        if identifier.isascii() and identifier.isdigit():
            wanted = int(identifier)
            return next((c for c in self._credentials.values() if c.id == wanted), None)
        return self._credentials.get(identifier)

    async def put_keychain(self, entry: KeychainRecord) -> None:
        self._keychain[entry.cache_key] = entry

    async def get_keychain(self, cache_key: str, now: float) -> KeychainRecord | None:
        entry = self._keychain.get(cache_key)
        if entry is not None:
            entry.access_count += 1
            entry.accessed_at = now
        return entry

    async def delete_keychain(self, cache_key: str) -> bool:
        return self._keychain.pop(cache_key, None) is not None

    async def keychain_for_catalog(self, catalog_id: int) -> list[KeychainRecord]:
        return [e for e in self._keychain.values() if e.catalog_id == catalog_id]
