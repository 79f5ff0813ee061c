"""Reports: a table for people (stdout) and JSON for tools (``<out_dir>/<kind>.json``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from bench.results import OperatorReport, TargetCheck, WorkerReport
from bench.stats import LatencySummary

__all__ = ["render_operator", "render_table", "render_worker", "write_json"]


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the rest right-aligned (they are numbers)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).ljust(width) if index == 0 else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _latency(summary: LatencySummary | None) -> str:
    if summary is None:
        return "-"
    return f"{summary.p50_ms:.1f}/{summary.p95_ms:.1f}/{summary.p99_ms:.1f}"


def _targets(checks: Sequence[TargetCheck]) -> str:
    rows = [
        [check.implementation, check.target, check.threshold, check.measured, check.status.upper(), check.detail]
        for check in checks
    ]
    return render_table(["impl", "target", "threshold", "measured", "status", "note"], rows)


def render_worker(report: WorkerReport) -> str:
    machine = report.machine
    head = (
        f"Worker benchmark  {report.started_at}  ({report.duration_s:.0f} s)\n"
        f"machine: {machine.cpu_model}, {machine.logical_cpus} CPUs, {machine.memory_gib} GiB, "
        f"Python {machine.python}, {machine.nats_server}, load {machine.load_average_1m}\n"
        f"control plane: {report.settings.get('control_plane', 'standin')}"
    )
    runs = render_table(
        [
            "scenario",
            "impl",
            "procs x slots",
            "rounds",
            "done/N",
            "cmd/s",
            "claim p50/95/99 ms",
            "done p50/95/99 ms",
            "CPU s/1k",
            "peak RSS MiB",
            "idle RSS MiB",
            "req/cmd",
            "cp cores",
            "cp µs/req",
            "nats cores",
            "load",
        ],
        [
            [
                run.scenario,
                run.implementation,
                f"{run.processes} x {run.slots}",
                str(run.rounds),
                f"{run.completed}/{run.commands}",
                _num(run.commands_per_s),
                _latency(run.claim_latency),
                _latency(run.complete_latency),
                _num(run.cpu_s_per_1000, 2),
                _num(run.worker.peak_rss_mib),
                _num(run.idle_rss_mib),
                _num(run.requests_per_command, 2),
                _num(run.standin.cpu_share, 2),
                _num(run.control_plane_us_per_request, 0),
                _num(run.nats.cpu_share, 2),
                _num(run.load_1m, 1),
            ]
            for run in report.runs
        ],
    )
    ratios = render_table(
        ["scenario", "impl", "metric", "impl / bare loop"],
        [[r.scenario, r.implementation, r.metric, _num(r.value, 2)] for r in report.ratios],
    )
    notes = [f"note: {n}" for run in report.runs for n in run.notes] + [f"note: {n}" for n in report.notes]
    parts = [head, runs, "Ratios to the bare loop (same run):", ratios, "Targets:", _targets(report.targets), *notes]
    return "\n\n".join(parts) + "\n"


def render_operator(report: OperatorReport) -> str:
    head = f"Operator benchmark  {report.started_at}  ({report.duration_s:.0f} s)"
    rows = [
        ["pool create -> Ready p50/95/99 ms", _latency(report.create_to_ready)],
        [f"cold start, {report.cold_start_pools} pools reconciled (s)", _num(report.cold_start_s)],
        ["idle CPU (cores)", _num(report.idle_cpu_share, 4)],
        ["peak RSS (MiB)", _num(report.peak_rss_mib)],
        [f"RSS idle with {report.cold_start_pools} pools (MiB)", _num(report.idle_rss_mib)],
    ]
    notes = [f"note: {n}" for n in report.notes]
    return (
        "\n\n".join([head, render_table(["measure", "value"], rows), "Targets:", _targets(report.targets), *notes])
        + "\n"
    )


def write_json(model: BaseModel, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model.model_dump_json(indent=2) + "\n")
    return path
