"""From one run's raw readings (control-plane timestamps, publish times, CPU/RSS samples) to the figures.

A scenario runs each implementation in several rounds, interleaved with the others, so a change in the
machine's background load hits every implementation alike; ``combine`` then pools the rounds: counts, CPU
seconds and windows add up, latency samples are pooled before the percentiles are taken.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.controlplane import CommandTimes
from bench.procs import MIB, BenchError, ResourceMonitor
from bench.results import ProcessUsage, RunResult
from bench.scenarios import Scenario
from bench.stats import summarize
from bench.targets import SATURATED_CPU_SHARE

__all__ = ["Measurement", "combine", "measure"]


@dataclass
class Usage:
    cpu_s: float
    peak_rss: int


@dataclass
class Measurement:
    """One round of one implementation in one scenario, before pooling."""

    commands: int
    completed: int
    failed: int
    window_s: float
    worker: Usage
    standin: Usage
    nats: Usage
    idle_rss: int | None
    requests: Counter[str]
    claim_s: list[float] = field(default_factory=list)
    complete_s: list[float] = field(default_factory=list)
    load_1m: float = 0.0


def _usage(monitors: Sequence[ResourceMonitor], start: float, end: float) -> Usage:
    return Usage(
        cpu_s=sum(m.cpu_between(start, end) for m in monitors),
        peak_rss=max((m.peak_rss(start, end) for m in monitors), default=0),
    )


def measure(
    scenario: Scenario,
    label: str,
    published: dict[int, float],
    times: CommandTimes,
    *,
    workers: Sequence[ResourceMonitor],
    standin: ResourceMonitor,
    nats: ResourceMonitor,
    idle_rss: int | None,
    requests: Counter[str],
) -> Measurement:
    if not times.completed:
        raise BenchError(f"{label} completed no command in scenario {scenario.name}")
    end = max(times.completed.values())
    # Paced: the window opens with the first publish (the rate is the publisher's). Preloaded: with the first
    # claim, so the backlog's publishing and the process's start-up stay outside it.
    start = min(published.values()) if scenario.mode == "paced" else min(times.claimed.values())
    paced = scenario.mode == "paced"
    return Measurement(
        commands=len(published),
        completed=len(times.completed),
        failed=times.status.get("FAILED", 0),
        window_s=max(end - start, 1e-9),
        worker=_usage(workers, start, end),
        standin=_usage([standin], start, end),
        nats=_usage([nats], start, end),
        idle_rss=idle_rss,
        requests=requests,
        claim_s=[times.claimed[e] - t for e, t in published.items() if e in times.claimed] if paced else [],
        complete_s=[times.completed[e] - t for e, t in published.items() if e in times.completed] if paced else [],
        load_1m=os.getloadavg()[0],
    )


def _process_usage(cpu_s: float, window_s: float, peak_rss: int) -> ProcessUsage:
    return ProcessUsage(cpu_s=cpu_s, cpu_share=cpu_s / window_s, peak_rss_mib=peak_rss / MIB)


def combine(scenario: Scenario, label: str, rounds: Sequence[Measurement]) -> RunResult:
    """Pool the rounds of one implementation in one scenario into its reported result."""
    completed = sum(r.completed for r in rounds)
    window = sum(r.window_s for r in rounds)
    worker_cpu = sum(r.worker.cpu_s for r in rounds)
    standin = _process_usage(sum(r.standin.cpu_s for r in rounds), window, max(r.standin.peak_rss for r in rounds))
    requests: Counter[str] = sum((r.requests for r in rounds), Counter())
    failed = sum(r.failed for r in rounds)
    idle = [r.idle_rss for r in rounds if r.idle_rss is not None]
    rate = completed / window
    notes = []
    if failed:
        notes.append(f"{scenario.name}/{label}: {failed} command(s) FAILED (see the stand-in's event log)")
    if standin.cpu_share >= SATURATED_CPU_SHARE:
        notes.append(
            f"{scenario.name}/{label}: stand-in saturated ({standin.cpu_share:.2f} cores) - the figure is a floor"
        )
    if scenario.rate is not None and rate < 0.95 * scenario.rate:
        notes.append(
            f"{scenario.name}/{label}: kept up with only {rate:.1f} of the {scenario.rate:g}/s paced rate - its "
            "latencies include queueing, so this was not light load for it"
        )
    return RunResult(
        scenario=scenario.name,
        implementation=label,
        processes=scenario.processes,
        slots=scenario.slots,
        rounds=len(rounds),
        commands=sum(r.commands for r in rounds),
        completed=completed,
        failed=failed,
        window_s=window,
        commands_per_s=rate,
        claim_latency=summarize([s for r in rounds for s in r.claim_s]),
        complete_latency=summarize([s for r in rounds for s in r.complete_s]),
        worker=_process_usage(worker_cpu, window, max(r.worker.peak_rss for r in rounds)),
        cpu_s_per_1000=worker_cpu / completed * 1000,
        idle_rss_mib=max(idle) / MIB if idle else None,
        requests_per_command=sum(requests.values()) / completed,
        control_plane_us_per_request=standin.cpu_s / sum(requests.values()) * 1e6 if requests else None,
        requests_by_route=dict(sorted(requests.items())),
        standin=standin,
        nats=_process_usage(sum(r.nats.cpu_s for r in rounds), window, max(r.nats.peak_rss for r in rounds)),
        ideal_commands_per_s=scenario.ideal_commands_per_s,
        load_1m=sum(r.load_1m for r in rounds) / len(rounds),
        notes=notes,
    )
