"""The ``Store`` contract, checked on ``MemoryStore``.

Written against the protocol only (through the ``store`` fixture), so a PostgreSQL store can be held to
the same specification by adding it to the fixture's parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from noetl_standin.memory import MemoryStore
from noetl_standin.records import (
    BatchRecord,
    CommandRecord,
    CommandStatus,
    CredentialRecord,
    EventRecord,
    KeychainRecord,
    LeasePolicy,
    ResultRecord,
    WorkerRecord,
)
from noetl_standin.store import Store

pytestmark = pytest.mark.unit

POLICY = LeasePolicy(lease_seconds=10, heartbeat_stale_seconds=5, hard_timeout_seconds=100)
NOW = 1_000.0

STORES: dict[str, Callable[[], Store]] = {"memory": MemoryStore}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> Store:
    return STORES[request.param]()


async def issue(store: Store, execution_id: int = 1, step: str = "s") -> CommandRecord:
    command = CommandRecord(
        command_id=store.new_id(),
        event_id=store.new_id(),
        execution_id=execution_id,
        catalog_id=9,
        step=step,
        tool_kind="noop",
        context={},
        meta={},
        created_at=NOW,
    )
    issued = EventRecord(
        event_id=command.event_id,
        execution_id=execution_id,
        event_type="command.issued",
        node_name=step,
        status="PENDING",
        created_at=NOW,
        command_id=command.command_id,
    )
    await store.issue_command(command, issued)
    return command


def event(store: Store, command: CommandRecord, name: str, *, source: str = "batch", **payload: object) -> EventRecord:
    return EventRecord(
        event_id=store.new_id(),
        execution_id=command.execution_id,
        event_type=name,
        node_name=command.step,
        status="RUNNING",
        created_at=NOW,
        payload=dict(payload),
        command_id=command.command_id,
        source=source,  # type: ignore[arg-type]
    )


async def test_ids_are_unique_and_increasing(store: Store) -> None:
    ids = [store.new_id() for _ in range(1000)]
    assert ids == sorted(set(ids))
    assert ids[0] > 2**53


async def test_issued_commands_are_found_by_event_id_and_command_id_and_listed(store: Store) -> None:
    command = await issue(store)
    assert await store.get_command(command.event_id) is command
    assert await store.command_by_id(command.command_id) is command
    assert await store.commands(1) == [command]
    assert await store.commands(2) == []
    assert await store.active_commands() == [command]
    assert [e.event_type for e in await store.events(1)] == ["command.issued"]


async def test_claim_outcomes(store: Store) -> None:
    command = await issue(store)
    assert (await store.claim(12345, "w", None, now=NOW, policy=POLICY)).kind == "not_found"
    claimed = await store.claim(command.event_id, "w", {"zone": "z"}, now=NOW, policy=POLICY)
    assert claimed.kind == "claimed"
    assert claimed.claim_event is not None
    assert claimed.claim_event.meta == {
        "command_id": command.command_id,
        "worker_id": "w",
        "actionable": False,
        "informative": True,
        "locality": {"zone": "z"},
    }
    assert (await store.claim(command.event_id, "w", None, now=NOW + 1, policy=POLICY)).kind == "idempotent"
    busy = await store.claim(command.event_id, "x", None, now=NOW + 1, policy=POLICY)
    assert (busy.kind, busy.holder) == ("active_claim", "w")
    taken = await store.claim(command.event_id, "x", None, now=NOW + 10, policy=POLICY)
    assert (taken.kind, taken.holder, taken.reason) == ("reclaimed", "w", "lease_expired")
    assert (command.worker_id, command.attempt) == ("x", 2)


async def test_append_applies_the_projection_and_retires_terminal_commands(store: Store) -> None:
    command = await issue(store)
    await store.append_events([event(store, command, "command.started")], now=NOW + 1)
    assert command.status is CommandStatus.RUNNING
    await store.append_events([event(store, command, "command.failed", error="boom")], now=NOW + 2)
    assert (command.status, command.error, command.completed_at) == (CommandStatus.FAILED, "boom", NOW + 2)
    assert await store.active_commands() == []
    assert (await store.claim(command.event_id, "w", None, now=NOW + 3, policy=POLICY)).kind == "already_terminal"


async def test_terminal_execution_events_close_the_execution(store: Store) -> None:
    command = await issue(store, execution_id=7)
    assert not await store.execution_terminal(7)
    await store.append_events([event(store, command, "playbook.completed", source="server")], now=NOW)
    assert await store.execution_terminal(7)
    assert (await store.claim(command.event_id, "w", None, now=NOW, policy=POLICY)).kind == "already_terminal"


async def test_find_event_by_identity_and_source(store: Store) -> None:
    command = await issue(store)
    single = event(store, command, "call.done", source="single")
    batch = event(store, command, "call.done", source="batch")
    await store.append_events([single, batch], now=NOW)
    assert await store.find_event(1, "call.done", "s", command.command_id, source="batch") is batch
    assert await store.find_event(1, "call.done", "s", command.command_id) is batch
    assert await store.find_event(1, "call.error", "s", command.command_id) is None
    after = await store.events(1, after_event_id=single.event_id)
    assert after == [batch]


async def test_batches_are_found_by_request_id_and_by_idempotency_key(store: Store) -> None:
    batch = BatchRecord(request_id="r1", execution_id=3, idempotency_key="k", event_ids=[1], updated_at=NOW)
    await store.save_batch(batch)
    assert await store.get_batch("r1") is batch
    assert await store.batch_by_key(3, "k") is batch
    assert await store.batch_by_key(4, "k") is None


async def test_worker_registry(store: Store) -> None:
    first = await store.upsert_worker(WorkerRecord(name="w", runtime_id="1", heartbeat=NOW, registered_at=NOW))
    again = await store.upsert_worker(WorkerRecord(name="w", runtime_id="2", heartbeat=NOW + 5, registered_at=NOW + 5))
    assert (again.runtime_id, again.registered_at, again.heartbeat) == (first.runtime_id, NOW, NOW + 5)
    touched = await store.touch_worker("w", NOW + 9)
    assert touched is not None
    assert touched.heartbeat == NOW + 9
    assert await store.touch_worker("nobody", NOW) is None
    offline = await store.set_worker_status("w", "offline", NOW)
    assert offline is not None
    assert offline.status == "offline"
    assert [w.name for w in await store.workers()] == ["w"]


async def test_variables(store: Store) -> None:
    await store.set_variables(1, {"a": 1, "b": 2}, "user_defined", "s", NOW)
    read = await store.read_variable(1, "a", NOW + 1)
    assert read is not None
    assert (read.value, read.access_count, read.accessed_at) == (1, 1, NOW + 1)
    assert set(await store.variables(1)) == {"a", "b"}
    assert await store.delete_variable(1, "a")
    assert not await store.delete_variable(1, "a")
    assert await store.delete_variables(1) == 1
    assert await store.variables(1) == {}


async def test_results(store: Store) -> None:
    old = ResultRecord(
        ref="r1", execution_id=1, name="s", data=1, scope="execution", store="kv", bytes=1, sha256="x", created_at=NOW
    )
    new = ResultRecord(
        ref="r2",
        execution_id=1,
        name="s",
        data=2,
        scope="execution",
        store="kv",
        bytes=1,
        sha256="y",
        created_at=NOW + 1,
    )
    await store.put_result(old)
    await store.put_result(new)
    assert await store.get_result("r1") is old
    assert await store.latest_result(1, "s") is new
    assert await store.latest_result(2, "s") is None


async def test_credentials_are_replaced_by_name_and_found_by_id(store: Store) -> None:
    first = await store.put_credential(
        CredentialRecord(id=5, name="pg", type="postgres", data={"a": 1}, created_at=NOW, updated_at=NOW)
    )
    second = await store.put_credential(
        CredentialRecord(id=6, name="pg", type="postgres", data={"a": 2}, created_at=NOW + 1, updated_at=NOW + 1)
    )
    assert (second.id, second.created_at, second.data) == (first.id, NOW, {"a": 2})
    assert await store.get_credential("5") == second
    assert await store.get_credential("pg") == second
    assert await store.get_credential("6") is None


async def test_keychain(store: Store) -> None:
    entry = KeychainRecord(
        cache_key="k:1:global",
        keychain_name="k",
        catalog_id=1,
        token_data={"t": 1},
        credential_type="bearer",
        cache_type="token",
        scope_type="global",
        created_at=NOW,
    )
    await store.put_keychain(entry)
    read = await store.get_keychain("k:1:global", NOW + 1)
    assert read is not None
    assert read.access_count == 1
    assert await store.keychain_for_catalog(1) == [entry]
    assert await store.delete_keychain("k:1:global")
    assert await store.get_keychain("k:1:global", NOW) is None


async def test_an_event_log_limit_forgets_the_oldest_events_but_keeps_commands() -> None:
    store = MemoryStore(event_log_limit=3)
    first = await issue(store, execution_id=1)
    second = await issue(store, execution_id=2)
    started = event(store, first, "command.started")
    await store.append_events([started, event(store, second, "command.started")], now=NOW)
    assert [e.event_type for e in await store.events()] == ["command.issued", "command.started", "command.started"]
    assert await store.events(1) == [started]
    completed = event(store, first, "command.completed")
    await store.append_events([completed], now=NOW)
    assert await store.events(1) == [started, completed]
    assert await store.find_event(1, "command.issued", "s", first.command_id) is None
    assert await store.find_event(1, "command.started", "s", first.command_id) is started
    assert first.status is CommandStatus.COMPLETED
    assert await store.get_command(first.event_id) is first
