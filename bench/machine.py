"""The machine a run happened on, recorded with every report (figures mean little without it)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import psutil
from pydantic import BaseModel, ConfigDict

__all__ = ["Machine", "describe_machine"]


class Machine(BaseModel):
    """Hardware and software a report was measured on."""

    model_config = ConfigDict(frozen=True)

    cpu_model: str
    logical_cpus: int
    usable_cpus: int
    memory_gib: float
    load_average_1m: float
    python: str
    platform: str
    nats_server: str
    git_commit: str


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _command_output(argv: list[str]) -> str:
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return completed.stdout.strip() or "unknown"


def describe_machine(nats_server_binary: Path | None = None) -> Machine:
    return Machine(
        cpu_model=_cpu_model(),
        logical_cpus=os.cpu_count() or 0,
        usable_cpus=len(os.sched_getaffinity(0)),
        memory_gib=round(psutil.virtual_memory().total / 1024**3, 1),
        load_average_1m=round(os.getloadavg()[0], 2),
        python=platform.python_version(),
        platform=platform.platform(),
        nats_server=_command_output([str(nats_server_binary), "--version"]) if nats_server_binary else "unknown",
        git_commit=_command_output(["git", "rev-parse", "--short", "HEAD"]),
    )
