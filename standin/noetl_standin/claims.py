"""The claim arbitration rules, as a pure function a store applies atomically.

Mirrors the server's claim policy: PENDING is claimable; a claim by the same worker is returned
again while it is only CLAIMED; a live claim by anyone else answers ``active_claim``; a claim may be
taken over once it is at least ``lease_seconds`` old and its holder is unregistered, not ``ready`` or
silent for ``heartbeat_stale_seconds``, or, whoever holds it, once it is ``hard_timeout_seconds`` old.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from noetl_standin.records import CommandRecord, CommandStatus, LeasePolicy, WorkerRecord

__all__ = ["ClaimDecision", "decide_claim"]


@dataclass(frozen=True, slots=True)
class ClaimDecision:
    kind: Literal["claim", "reclaim", "idempotent", "active_claim", "already_terminal"]
    reason: str | None = None


def _claim_age(command: CommandRecord, now: float) -> float:
    # Any sign of life on the command resets the age, so a just-started command is never stolen.
    touched = max(t for t in (command.claimed_at, command.started_at, command.updated_at, command.created_at) if t)
    return now - touched


def decide_claim(
    command: CommandRecord,
    worker_id: str,
    *,
    now: float,
    holder: WorkerRecord | None,
    execution_terminal: bool,
    policy: LeasePolicy,
) -> ClaimDecision:
    """Decide what a claim of ``command`` by ``worker_id`` does at time ``now``."""
    if command.terminal or execution_terminal:
        return ClaimDecision("already_terminal", command.status.value if command.terminal else "execution_terminal")
    if command.status is CommandStatus.PENDING or command.worker_id is None:
        return ClaimDecision("claim")
    age = _claim_age(command, now)
    if command.worker_id == worker_id:
        if command.status is CommandStatus.CLAIMED:
            return ClaimDecision("idempotent")
        if age >= policy.hard_timeout_seconds:
            return ClaimDecision("reclaim", "healthy_worker_hard_timeout")
        return ClaimDecision("active_claim", "running_on_same_worker")
    if age < policy.lease_seconds:
        return ClaimDecision("active_claim", "lease_active")
    if holder is None:
        return ClaimDecision("reclaim", "lease_expired")
    if holder.status != "ready":
        return ClaimDecision("reclaim", f"worker_{holder.status}")
    if now - holder.heartbeat >= policy.heartbeat_stale_seconds:
        return ClaimDecision("reclaim", "worker_heartbeat_stale")
    if age >= policy.hard_timeout_seconds:
        return ClaimDecision("reclaim", "healthy_worker_hard_timeout")
    return ClaimDecision("active_claim", "holder_healthy")
