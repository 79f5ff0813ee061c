"""The lease rules as a pure function: every branch of ``decide_claim``."""

from __future__ import annotations

import pytest
from noetl_standin.claims import decide_claim
from noetl_standin.records import CommandRecord, CommandStatus, LeasePolicy, WorkerRecord

pytestmark = pytest.mark.unit

POLICY = LeasePolicy(lease_seconds=120, heartbeat_stale_seconds=30, hard_timeout_seconds=1800)
T0 = 1_000_000.0


def command(status: CommandStatus = CommandStatus.CLAIMED, worker: str | None = "holder") -> CommandRecord:
    return CommandRecord(
        command_id=1,
        event_id=2,
        execution_id=3,
        catalog_id=4,
        step="s",
        tool_kind="noop",
        context={},
        meta={},
        created_at=T0,
        status=status,
        worker_id=worker,
        claimed_at=T0 if worker else None,
    )


def worker(status: str = "ready", heartbeat: float = T0) -> WorkerRecord:
    return WorkerRecord(name="holder", runtime_id="r", heartbeat=heartbeat, registered_at=T0, status=status)


def decide(
    cmd: CommandRecord, who: str, at: float, holder: WorkerRecord | None, terminal: bool = False
) -> tuple[str, str | None]:
    decision = decide_claim(cmd, who, now=T0 + at, holder=holder, execution_terminal=terminal, policy=POLICY)
    return decision.kind, decision.reason


def test_pending_is_claimable() -> None:
    assert decide(command(CommandStatus.PENDING, None), "w", 0, None) == ("claim", None)


@pytest.mark.parametrize("status", [CommandStatus.COMPLETED, CommandStatus.FAILED, CommandStatus.CANCELLED])
def test_terminal_commands_are_already_terminal(status: CommandStatus) -> None:
    assert decide(command(status), "w", 0, None) == ("already_terminal", status.value)


def test_a_terminal_execution_makes_every_command_terminal() -> None:
    assert decide(command(CommandStatus.PENDING, None), "w", 0, None, terminal=True) == (
        "already_terminal",
        "execution_terminal",
    )


def test_same_worker_claimed_is_idempotent_running_is_active_until_the_hard_timeout() -> None:
    assert decide(command(), "holder", 5000, worker())[0] == "idempotent"
    assert decide(command(CommandStatus.RUNNING), "holder", 10, worker()) == ("active_claim", "running_on_same_worker")
    assert decide(command(CommandStatus.RUNNING), "holder", 1800, worker()) == (
        "reclaim",
        "healthy_worker_hard_timeout",
    )


def test_within_the_lease_nobody_takes_over_even_from_a_missing_holder() -> None:
    assert decide(command(), "w", 119, None) == ("active_claim", "lease_active")


@pytest.mark.parametrize(
    ("holder", "at", "expected"),
    [
        (None, 120, ("reclaim", "lease_expired")),
        (worker(status="offline"), 120, ("reclaim", "worker_offline")),
        (worker(heartbeat=T0 + 90), 120, ("reclaim", "worker_heartbeat_stale")),
        (worker(heartbeat=T0 + 100), 120, ("active_claim", "holder_healthy")),
        (worker(heartbeat=T0 + 1790), 1800, ("reclaim", "healthy_worker_hard_timeout")),
    ],
)
def test_after_the_lease(holder: WorkerRecord | None, at: float, expected: tuple[str, str]) -> None:
    assert decide(command(), "w", at, holder) == expected


def test_recent_activity_on_the_command_restarts_the_lease() -> None:
    cmd = command(CommandStatus.RUNNING)
    cmd.started_at = T0 + 100
    assert decide(cmd, "w", 150, None) == ("active_claim", "lease_active")
