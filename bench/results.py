"""What a benchmark run produces: typed, JSON-serializable results (the JSON report is these models dumped)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bench.machine import Machine
from bench.stats import LatencySummary

__all__ = [
    "OperatorReport",
    "ProcessUsage",
    "Ratio",
    "RunResult",
    "SuiteReport",
    "TargetCheck",
    "WorkerReport",
]


class ProcessUsage(BaseModel):
    """CPU and memory of one process tree over the measured window."""

    model_config = ConfigDict(frozen=True)

    cpu_s: float = Field(description="CPU seconds (user + system) spent in the window.")
    cpu_share: float = Field(description="Average cores busy in the window (1.0 = one core saturated).")
    peak_rss_mib: float = Field(description="Largest resident set sampled in the window.")


class RunResult(BaseModel):
    """One implementation in one scenario."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    implementation: str
    processes: int
    slots: int
    rounds: int = Field(description="Interleaved rounds pooled into this result.")
    commands: int
    completed: int
    failed: int
    window_s: float = Field(description="Sum over rounds of first claim (paced: first publish) to last completion.")
    commands_per_s: float
    claim_latency: LatencySummary | None = Field(description="Publish → claim (paced runs only).")
    complete_latency: LatencySummary | None = Field(description="Publish → command.completed (paced runs only).")
    worker: ProcessUsage
    cpu_s_per_1000: float
    idle_rss_mib: float | None = Field(description="RSS of the ready, idle process before any command.")
    requests_per_command: float | None
    requests_by_route: dict[str, int]
    standin: ProcessUsage = Field(description="The control plane's process (fast responder or stand-in).")
    control_plane_us_per_request: float | None = Field(
        None, description="The control plane's CPU per API request it answered, microseconds."
    )
    nats: ProcessUsage
    ideal_commands_per_s: float | None = Field(None, description="What the slots allow (I/O-wait runs).")
    load_1m: float = Field(description="The machine's 1-minute load average at the end of the rounds (mean).")
    notes: list[str] = Field(default_factory=list)


class Ratio(BaseModel):
    """An implementation's figure over the bare loop's, same scenario, same run."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    implementation: str
    metric: str
    value: float | None


class TargetCheck(BaseModel):
    """One target of issue 9, as measured."""

    model_config = ConfigDict(frozen=True)

    implementation: str
    target: str
    threshold: str
    measured: str
    status: Literal["met", "missed", "not measured"]
    detail: str = ""


class WorkerReport(BaseModel):
    kind: Literal["worker"] = "worker"
    started_at: str
    duration_s: float
    machine: Machine
    settings: dict[str, object]
    runs: list[RunResult]
    ratios: list[Ratio]
    targets: list[TargetCheck]
    fork_cost_ms: float | None = Field(
        None, description="CPU ms to fork a warm interpreter, run a trivial step and reap it (python runs only)."
    )
    notes: list[str] = Field(default_factory=list)


class OperatorReport(BaseModel):
    kind: Literal["operator"] = "operator"
    started_at: str
    duration_s: float
    machine: Machine
    settings: dict[str, object]
    create_to_ready: LatencySummary | None
    cold_start_s: float | None
    cold_start_pools: int
    idle_cpu_share: float | None
    peak_rss_mib: float | None = Field(description="Peak over both operator processes (the cold start's burst).")
    idle_rss_mib: float | None = Field(description="RSS at the end of the idle window, all pools reconciled.")
    targets: list[TargetCheck]
    notes: list[str] = Field(default_factory=list)


class SuiteReport(BaseModel):
    """``python -m bench all``: both reports of one invocation."""

    worker: WorkerReport | None
    operator: OperatorReport | None
    errors: list[str] = Field(default_factory=list)
