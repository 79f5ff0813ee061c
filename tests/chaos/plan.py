"""What a chaos run does: the plan, the seeded fault schedule, and the settings it gives workers and stand-in.

The schedule is driven by progress, not by the clock: fault *i* fires when the job has completed its share
``at`` of the commands, so every fault lands mid-run however fast or slow the machine is.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACK_WAIT_SECONDS",
    "HTTP_AND_PROCESS_FAULTS",
    "ChaosPlan",
    "NatsFault",
    "ScheduledFault",
    "schedule",
    "standin_settings",
    "worker_env",
]

NatsFault = Callable[[], Awaitable[str]]
"""A NATS-side fault: does its damage, waits for recovery, returns a one-line description."""

#: Faults every run injects; the caller adds its NATS faults by name.
HTTP_AND_PROCESS_FAULTS = (
    "sigkill_worker",
    "sigterm_worker",
    "http_503_burst",
    "control_plane_down",
    "drop_after_commit",
    "duplicates",
    "poison",
)

ACK_WAIT_SECONDS = 10.0
"""The consumer's ack_wait: short, so the copies a SIGKILLed worker held come back within the run."""


@dataclass(frozen=True)
class ChaosPlan:
    """What to run and how hard to shake it."""

    commands: int
    workers: int = 3
    slots: int = 2
    hold_seconds: float = 0.3
    seed: int = 20261129
    rounds: int = 1
    """How many times each fault kind fires."""
    outage_seconds: float = 5.0
    burst_seconds: float = 4.0
    duplicates: int = 20
    """Pointers published again per ``duplicates`` fault."""
    timeout_seconds: float = 170.0
    """Budget for the whole run (submission to completion)."""

    @property
    def lease_seconds(self) -> float:
        # Longer than an outage plus the worker's longest event back-off (10 s) with margin: a live
        # holder's claim must never look abandoned because the control plane itself was away.
        return self.outage_seconds + 20.0


@dataclass(frozen=True)
class ScheduledFault:
    at: float
    """Share of completed commands that triggers it."""
    kind: str


def schedule(plan: ChaosPlan, kinds: tuple[str, ...], *, shuffle: bool = True) -> list[ScheduledFault]:
    """Every kind ``plan.rounds`` times, in a seeded order (or as given), spread over 5 %-85 % progress."""
    order = [kind for _ in range(plan.rounds) for kind in kinds]
    if shuffle:
        random.Random(plan.seed).shuffle(order)
    step = 0.80 / max(1, len(order) - 1)
    return [ScheduledFault(round(0.05 + i * step, 4), kind) for i, kind in enumerate(order)]


def worker_env(plan: ChaosPlan, names: Mapping[str, str]) -> dict[str, str]:
    return {
        **names,
        "WORKER_MAX_CONCURRENT": str(plan.slots),
        "NATS_ACK_WAIT": f"{ACK_WAIT_SECONDS:g}",
        # A dropped response must not hold a slot for the default 30 s.
        "WORKER_HTTP_TIMEOUT": "5",
        "WORKER_DRAIN_DEADLINE": "20",
        "WORKER_OUTCOME_HOLD": "300",
        "WORKER_NATS_LAG_POLL_INTERVAL": "5",
        # Well inside the stand-in's 5 s staleness (standin_settings): a claim is taken over only when its lease
        # expired *and* its holder looks dead. With the worker's default 15 s heartbeat every live worker looked
        # dead two thirds of the time, so a live holder slowed past the lease (a loaded CI machine) lost its
        # claim to another worker, which ran the tool a second time with no SIGKILL involved.
        "WORKER_HEARTBEAT_INTERVAL": "1",
    }


def standin_settings(plan: ChaosPlan, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "nats_stream": names["NATS_STREAM"],
        "nats_subject": names["NATS_SUBJECT"],
        "claim_lease_seconds": plan.lease_seconds,
        "worker_heartbeat_stale_seconds": 5,
        "reaper_interval_seconds": 2,
        "republish_delay_seconds": 15,
    }
