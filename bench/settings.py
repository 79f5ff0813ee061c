"""The benchmark's settings: one documented pydantic model per benchmark, filled from the command line.

Defaults are sized so that ``python -m bench all`` finishes on a 2-vCPU machine in well under ten minutes
while every figure still rests on thousands of commands (throughput) or hundreds (latency). The seed fixes
everything the harness randomizes (the blob bytes, the order implementations run in), so two runs on the same
machine do the same work.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "WORKER_SCENARIOS",
    "OperatorBenchSettings",
    "WorkerBenchSettings",
    "WorkerCommand",
    "default_worker_command",
    "parse_worker_command",
]

ScenarioName = Literal["noop", "latency", "sleep", "duckdb", "result", "python", "two-process"]
WORKER_SCENARIOS: tuple[ScenarioName, ...] = (
    "noop",
    "latency",
    "sleep",
    "duckdb",
    "result",
    "python",
    "two-process",
)


class WorkerCommand(BaseModel):
    """One worker implementation to measure: a label for the report and the argv that starts it.

    The process gets the worker's environment contract (``NATS_URL``, ``NATS_STREAM``, ``NATS_CONSUMER``,
    ``NOETL_SERVER_URL``, ``WORKER_MAX_CONCURRENT``, ``WORKER_ID``, ``WORKER_METRICS_BIND``) and must stop on
    SIGTERM; any binary speaking the protocol qualifies.
    """

    model_config = ConfigDict(frozen=True)

    label: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    argv: tuple[str, ...] = Field(min_length=1)


def default_worker_command() -> WorkerCommand:
    """This repository's worker, started the way its console script does."""
    return WorkerCommand(label="worker", argv=(sys.executable, "-m", "noetl_worker", "run"))


def parse_worker_command(text: str) -> WorkerCommand:
    """Parse ``[LABEL=]COMMAND LINE`` (shell-quoted); the label defaults to the program's file name."""
    label, sep, rest = text.partition("=")
    if sep and label and " " not in label and "/" not in label:
        command_line = rest
    else:
        label, command_line = "", text
    try:
        argv = tuple(shlex.split(command_line))
    except ValueError as error:
        raise ValueError(f"--worker-cmd {text!r}: {error}") from None
    if not argv:
        raise ValueError(f"--worker-cmd {text!r}: empty command")
    return WorkerCommand(label=label or Path(argv[0]).name, argv=argv)


class WorkerBenchSettings(BaseModel):
    """What ``python -m bench worker`` measures and how hard."""

    model_config = ConfigDict(frozen=True)

    out_dir: Path = Field(description="Directory for the JSON report, process logs and profiles.")
    seed: int = Field(20261129, description="Seed of everything the harness randomizes.")
    workers: tuple[WorkerCommand, ...] = Field(
        default_factory=lambda: (default_worker_command(),),
        description="Implementations measured against the bare loop, side by side.",
    )
    scenarios: tuple[ScenarioName, ...] = Field(WORKER_SCENARIOS, min_length=1, description="Scenarios to run.")
    rounds: int = Field(
        2, ge=1, le=20, description="Interleaved rounds per scenario; each gets 1/rounds of the commands."
    )
    slots: int = Field(32, ge=1, description="WORKER_MAX_CONCURRENT for the noop, latency and two-process runs.")
    noop_commands: int = Field(2000, ge=1, description="Preloaded noop commands per throughput run.")
    latency_rate: float = Field(50.0, gt=0, le=10_000, description="Paced publish rate (commands/s), light load.")
    latency_commands: int = Field(300, ge=1, description="Commands published at the paced rate.")
    sleep_slots: int = Field(8, ge=1, description="WORKER_MAX_CONCURRENT for the 100 ms I/O-wait run.")
    sleep_ms: int = Field(100, ge=1, le=60_000, description="The I/O wait of the sleep variant.")
    sleep_commands: int = Field(400, ge=1, description="Commands in the sleep run (ideal rate slots*1000/ms).")
    duckdb_slots: int = Field(8, ge=1, description="WORKER_MAX_CONCURRENT for the duckdb run.")
    duckdb_commands: int = Field(400, ge=1, description="Commands in the duckdb run.")
    duckdb_query: str = Field(
        "SELECT count(*) AS n, sum(i) AS total FROM range(10000) t(i)",
        min_length=1,
        description="The small duckdb query each command runs (in-memory database).",
    )
    result_slots: int = Field(8, ge=1, description="WORKER_MAX_CONCURRENT for the 1 MiB result run.")
    result_commands: int = Field(100, ge=1, description="Commands in the 1 MiB result run.")
    result_bytes: int = Field(1024 * 1024, ge=1, le=16 * 1024 * 1024, description="Size of the result body.")
    python_slots: int = Field(8, ge=1, description="WORKER_MAX_CONCURRENT for the python-tool run.")
    python_commands: int = Field(
        400, ge=1, description="Commands in the python-tool run (a step that returns at once)."
    )
    idle_settle_s: float = Field(3.0, ge=0, description="Seconds a ready, idle process settles before idle RSS.")
    run_timeout_s: float = Field(180.0, gt=0, description="Give up on a run that has not completed by then.")
    sample_interval_s: float = Field(0.05, gt=0, le=1, description="psutil sampling period.")
    profile: bool = Field(
        False, description="After each scenario, one more run of each worker under pyinstrument (not reported)."
    )
    control_plane: Literal["fast", "standin"] = Field(
        "fast",
        description="What answers the workers: 'fast' (bench.fastplane, the protocol at production speed) or "
        "'standin' (noetl_standin, contract-faithful and slower per request).",
    )

    @field_validator("workers")
    @classmethod
    def _unique_labels(cls, workers: tuple[WorkerCommand, ...]) -> tuple[WorkerCommand, ...]:
        labels = [w.label for w in workers]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"worker labels must be unique; repeated: {', '.join(duplicates)}")
        if "bareloop" in labels:
            raise ValueError("the label 'bareloop' is reserved for the baseline")
        return workers


class OperatorBenchSettings(BaseModel):
    """What ``python -m bench operator`` measures on the envtest API server."""

    model_config = ConfigDict(frozen=True)

    out_dir: Path = Field(description="Directory for the JSON report and logs.")
    seed: int = Field(20261129, description="Seed of everything the harness randomizes.")
    pools: int = Field(50, ge=1, description="Pools created at a steady pace, each timed create → Ready=True.")
    create_interval_s: float = Field(0.2, ge=0, description="Pause between two creates of the create → Ready phase.")
    cold_pools: int = Field(200, ge=1, description="Pools present before the operator starts (cold start).")
    idle_window_s: float = Field(
        30.0, gt=0, description="Idle CPU window; keep it >= one resync period (30 s) so it holds one timer tick."
    )
    ready_timeout_s: float = Field(
        90.0, gt=0, description="Give up on pools not Ready this long after the last create."
    )
    cold_timeout_s: float = Field(180.0, gt=0, description="Give up on a cold start not reconciled by then.")
    sample_interval_s: float = Field(0.1, gt=0, le=1, description="psutil sampling period.")
    resync_interval_s: float | None = Field(
        None,
        ge=1,
        description="NOETL_OPERATOR_RESYNC_INTERVAL_SECONDS for the operator; unset = its default (what ships). "
        "Only `--quick` shortens it, to prove the harness runs in seconds.",
    )
