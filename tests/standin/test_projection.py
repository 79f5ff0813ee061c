"""The command projection and where the server looks for a command id."""

from __future__ import annotations

import pytest
from noetl_standin.projection import apply_event, find_command_id, find_error
from noetl_standin.records import CommandRecord, CommandStatus

pytestmark = pytest.mark.unit


def row() -> CommandRecord:
    return CommandRecord(
        command_id=1,
        event_id=2,
        execution_id=3,
        catalog_id=4,
        step="s",
        tool_kind="noop",
        context={},
        meta={},
        created_at=0.0,
        status=CommandStatus.CLAIMED,
        worker_id="w",
    )


@pytest.mark.parametrize(
    ("payload", "meta", "expected"),
    [
        ({"command_id": 5}, None, 5),
        ({"command_id": "5"}, None, 5),
        ({}, {"command_id": 6}, 6),
        ({"context": {"command_id": 7}}, None, 7),
        ({"result": {"command_id": 8}}, None, 8),
        ({"result": {"context": {"command_id": "9"}}}, None, 9),
        ({"command_id": "e:s:unknown"}, None, "e:s:unknown"),
        ({"command_id": True}, {"command_id": 4}, 4),
        ({}, None, None),
    ],
)
def test_command_id_lookup_order(payload: dict[str, object], meta: dict[str, object] | None, expected: object) -> None:
    assert find_command_id(payload, meta) == expected


def test_started_then_completed_then_never_downgraded() -> None:
    command = row()
    assert apply_event(command, "command.started", {}, 10, 1.0)
    assert (command.status, command.started_at, command.latest_event_id) == (CommandStatus.RUNNING, 1.0, 10)
    assert apply_event(command, "command.completed", {"result": {"status": "COMPLETED"}}, 11, 2.0)
    assert (command.status, command.result, command.completed_at) == (
        CommandStatus.COMPLETED,
        {"status": "COMPLETED"},
        2.0,
    )
    assert not apply_event(command, "command.started", {}, 12, 3.0)
    assert not apply_event(command, "command.failed", {"error": "late"}, 13, 3.0)
    assert command.status is CommandStatus.COMPLETED


def test_other_events_do_not_move_the_row() -> None:
    command = row()
    for name in ("call.done", "step.exit", "command.heartbeat", "step.enter"):
        assert not apply_event(command, name, {}, 1, 1.0)
    assert command.status is CommandStatus.CLAIMED


def test_errors_are_taken_from_the_payload_or_the_result_and_capped() -> None:
    assert find_error({"error": "x" * 3000}) == "x" * 2000
    assert find_error({"result": {"error": {"msg": "m"}}}) == "{'msg': 'm'}"
    assert find_error({}) is None
