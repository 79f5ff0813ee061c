"""The counted outcome of a chaos run and how it prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.plan import ChaosPlan
from tests.chaos.pool import Crash

__all__ = ["ChaosReport", "FaultRecord"]


@dataclass(frozen=True)
class FaultRecord:
    kind: str
    at_progress: float
    seconds: float
    detail: str


@dataclass
class ChaosReport:
    """The counted outcome of a run; ``render()`` is what the test prints."""

    plan: ChaosPlan
    submitted: int = 0
    completed: int = 0
    lost: int = 0
    accepted_outcomes: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    double_runs: dict[str, int] = field(default_factory=dict)
    unexplained_double_runs: dict[str, str] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    killed_workers: int = 0
    drained_workers: int = 0
    drain_exit_codes: list[int] = field(default_factory=list)
    final_exit_codes: list[int] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    poison_published: int = 0
    poison_dead_lettered: int = 0
    real_commands_dead_lettered: int = 0
    dead_letter_log: list[str] = field(default_factory=list)
    """Every worker log line about poison or dead letters: when the dead-letter count is off, these say
    whether a worker saw the message, terminated it, and whether its copy was stored."""
    consumer_settled: bool = False
    wall_seconds: float = 0.0
    drain_seconds: float = 0.0
    claims: Counter[str] = field(default_factory=Counter)
    reclaims: Counter[str] = field(default_factory=Counter)
    """Claim takeovers by ``<reason> from <killed|drained|live> worker``: a live one means a holder that was
    still working lost its claim (its outcome may yet arrive, and its tool may run twice)."""
    injected: Counter[str] = field(default_factory=Counter)
    """Faults the stand-in actually applied (``saturated``, ``outage``, ``dropped_response``)."""

    @property
    def extra_runs(self) -> int:
        return sum(n - 1 for n in self.double_runs.values())

    @property
    def unexpected_exits(self) -> int:
        bad_drains = sum(1 for code in self.drain_exit_codes if code != 0)
        bad_finals = sum(1 for code in self.final_exit_codes if code != 0)
        return len(self.crashes) + bad_drains + bad_finals

    def as_json(self) -> dict[str, Any]:
        return {
            "commands": self.plan.commands,
            "workers": self.plan.workers,
            "slots": self.plan.slots,
            "seed": self.plan.seed,
            "submitted": self.submitted,
            "completed": self.completed,
            "lost": self.lost,
            "commands_run_more_than_once": len(self.double_runs),
            "extra_runs": self.extra_runs,
            "double_runs_outside_window": len(self.unexplained_double_runs),
            "injected_sigkills": self.killed_workers,
            "sigterm_drains": self.drained_workers,
            "crashes": self.unexpected_exits,
            "poison_published": self.poison_published,
            "poison_dead_lettered": self.poison_dead_lettered,
            "real_commands_dead_lettered": self.real_commands_dead_lettered,
            "faults": [f.kind for f in self.faults],
            "claims": dict(self.claims),
            "reclaims": dict(self.reclaims),
            "injected_http_faults": dict(self.injected),
            "wall_seconds": round(self.wall_seconds, 1),
            "drain_seconds": round(self.drain_seconds, 1),
        }

    def render(self) -> str:
        lines = [
            f"chaos run: {self.plan.commands} commands, {self.plan.workers} workers x {self.plan.slots} slots, "
            f"seed {self.plan.seed}",
            "faults (progress, seconds, what):",
            *(f"  {f.at_progress:5.0%} {f.seconds:6.1f}s  {f.kind}: {f.detail}" for f in self.faults),
            f"submitted                       {self.submitted}",
            f"completed                       {self.completed}",
            f"lost                            {self.lost}",
            f"commands run more than once     {len(self.double_runs)} ({self.extra_runs} extra runs)",
            f"  ...outside the SIGKILL window {len(self.unexplained_double_runs)}",
            f"injected SIGKILLs / drains      {self.killed_workers} / {self.drained_workers}",
            f"worker crashes (not injected)   {self.unexpected_exits}",
            f"poison published / dead-letter  {self.poison_published} / {self.poison_dead_lettered}",
            f"real commands dead-lettered     {self.real_commands_dead_lettered}",
            f"consumer settled (0 pending)    {self.consumer_settled}",
            f"claims                          {dict(self.claims)}",
            f"claim takeovers                 {dict(self.reclaims)}",
            f"HTTP faults applied             {dict(self.injected)}",
            f"wall time                       {self.wall_seconds:.1f}s",
            f"time to drain after last fault  {self.drain_seconds:.1f}s",
        ]
        lines += [f"  double run outside window: {step}: {why}" for step, why in self.unexplained_double_runs.items()]
        if self.poison_dead_lettered != self.poison_published or self.real_commands_dead_lettered:
            lines += [
                "worker log lines about poison and dead letters:",
                *(f"  {line}" for line in self.dead_letter_log),
            ]
        lines += [f"  crash: {c.worker_id} exit {c.returncode}\n{c.log_tail}" for c in self.crashes]
        return "\n".join(lines)
