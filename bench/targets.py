"""The worker's targets (issues 9 and 15), checked against one run's results, and the ratios to the bare loop.

Thresholds are relative to the bare loop measured in the same run wherever the issue states them that way,
because absolute numbers on a shared machine say more about the neighbours than about the code.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.results import Ratio, RunResult, TargetCheck
from bench.stats import ratio

__all__ = [
    "BARELOOP",
    "IDLE_RSS_MIB",
    "LATENCY_P50_MS",
    "LATENCY_P99_MS",
    "SATURATED_CPU_SHARE",
    "SLEEP_EFFICIENCY",
    "THROUGHPUT_RATIO",
    "TWO_PROCESS_SCALING",
    "check_targets",
    "compute_ratios",
]

BARELOOP = "bareloop"
THROUGHPUT_RATIO = 0.7
CPU_RATIO = 1.5
LATENCY_P50_MS = 2.0
LATENCY_P99_MS = 5.0
SLEEP_EFFICIENCY = 0.95
TWO_PROCESS_SCALING = 1.6
IDLE_RSS_MIB = 60.0
# The upstream Rust worker, when measured as a peer under this label, must be beaten by this factor.
RUST = "rust"
RUST_THROUGHPUT_RATIO = 1.5
PYTHON_CPU_RATIO = 2.0
# A process averaging this share of a core or more is saturated: what waits on it measures it, not the worker.
SATURATED_CPU_SHARE = 0.9


def _find(runs: Sequence[RunResult], scenario: str, implementation: str) -> RunResult | None:
    return next((r for r in runs if r.scenario == scenario and r.implementation == implementation), None)


def compute_ratios(runs: Sequence[RunResult]) -> list[Ratio]:
    """Every implementation's throughput, CPU per command and RSS over the bare loop's, per scenario."""
    ratios: list[Ratio] = []
    for run in runs:
        if run.implementation == BARELOOP:
            continue
        base = _find(runs, run.scenario, BARELOOP)
        if base is None:
            continue
        ratios.append(
            Ratio(
                scenario=run.scenario,
                implementation=run.implementation,
                metric="throughput",
                value=ratio(run.commands_per_s, base.commands_per_s),
            )
        )
        ratios.append(
            Ratio(
                scenario=run.scenario,
                implementation=run.implementation,
                metric="cpu_per_command",
                value=ratio(run.cpu_s_per_1000, base.cpu_s_per_1000),
            )
        )
        ratios.append(
            Ratio(
                scenario=run.scenario,
                implementation=run.implementation,
                metric="peak_rss",
                value=ratio(run.worker.peak_rss_mib, base.worker.peak_rss_mib),
            )
        )
        if run.claim_latency is not None and base.claim_latency is not None:
            ratios.append(
                Ratio(
                    scenario=run.scenario,
                    implementation=run.implementation,
                    metric="claim_p50",
                    value=ratio(run.claim_latency.p50_ms, base.claim_latency.p50_ms),
                )
            )
    return ratios


def _check(
    implementation: str, target: str, threshold: str, measured: str | None, met: bool | None, detail: str = ""
) -> TargetCheck:
    return TargetCheck(
        implementation=implementation,
        target=target,
        threshold=threshold,
        measured="-" if measured is None else measured,
        status="not measured" if met is None else "met" if met else "missed",
        detail=detail,
    )


def _saturation(run: RunResult | None) -> str:
    if run is not None and run.standin.cpu_share >= SATURATED_CPU_SHARE:
        return f"stand-in saturated ({run.standin.cpu_share:.2f} cores)"
    return ""


def _relative(impl: str, runs: Sequence[RunResult]) -> list[TargetCheck]:
    noop, base = _find(runs, "noop", impl), _find(runs, "noop", BARELOOP)
    if noop is None or base is None:
        return [
            _check(impl, "noop throughput vs bare loop (one process)", f">= {THROUGHPUT_RATIO}x", None, None),
            _check(impl, "noop CPU per command vs bare loop", f"<= {CPU_RATIO}x", None, None),
        ]
    throughput = ratio(noop.commands_per_s, base.commands_per_s)
    cpu = ratio(noop.cpu_s_per_1000, base.cpu_s_per_1000)
    return [
        _check(
            impl,
            f"noop throughput vs bare loop (one process, {noop.slots} slots)",
            f">= {THROUGHPUT_RATIO}x",
            None
            if throughput is None
            else f"{throughput:.2f}x ({noop.commands_per_s:.0f} vs {base.commands_per_s:.0f}/s)",
            None if throughput is None else throughput >= THROUGHPUT_RATIO,
            _saturation(noop),
        ),
        _check(
            impl,
            "noop CPU per command vs bare loop",
            f"<= {CPU_RATIO}x",
            None if cpu is None else f"{cpu:.2f}x ({noop.cpu_s_per_1000:.2f} vs {base.cpu_s_per_1000:.2f} CPU s/1000)",
            None if cpu is None else cpu <= CPU_RATIO,
        ),
    ]


def _latency(impl: str, runs: Sequence[RunResult]) -> list[TargetCheck]:
    run = _find(runs, "latency", impl)
    claim = run.claim_latency if run else None
    return [
        _check(
            impl,
            "publish -> claim at light load, p50",
            f"<= {LATENCY_P50_MS} ms",
            None if claim is None else f"{claim.p50_ms:.2f} ms",
            None if claim is None else claim.p50_ms <= LATENCY_P50_MS,
        ),
        _check(
            impl,
            "publish -> claim at light load, p99",
            f"<= {LATENCY_P99_MS} ms",
            None if claim is None else f"{claim.p99_ms:.2f} ms",
            None if claim is None else claim.p99_ms <= LATENCY_P99_MS,
        ),
    ]


def _sleep(impl: str, runs: Sequence[RunResult]) -> TargetCheck:
    run = _find(runs, "sleep", impl)
    if run is None or run.ideal_commands_per_s is None:
        return _check(impl, "I/O wait: share of the rate the slots allow", f">= {SLEEP_EFFICIENCY:.0%}", None, None)
    efficiency = run.commands_per_s / run.ideal_commands_per_s
    return _check(
        impl,
        f"I/O wait, {run.slots} slots: share of the rate the slots allow",
        f">= {SLEEP_EFFICIENCY:.0%}",
        f"{efficiency:.1%} ({run.commands_per_s:.1f} of {run.ideal_commands_per_s:.0f}/s)",
        efficiency >= SLEEP_EFFICIENCY,
    )


def _scaling(impl: str, runs: Sequence[RunResult], logical_cpus: int) -> TargetCheck:
    one, two = _find(runs, "noop", impl), _find(runs, "two-process", impl)
    name = "two processes vs one on the same consumer"
    if one is None or two is None:
        return _check(impl, name, f">= {TWO_PROCESS_SCALING}x", None, None)
    scaling = two.commands_per_s / one.commands_per_s if one.commands_per_s else 0.0
    notes = [_saturation(two)]
    if logical_cpus < 4:
        notes.append(f"{logical_cpus} CPUs shared by nats-server, stand-in and both processes")
    return _check(
        impl,
        name,
        f">= {TWO_PROCESS_SCALING}x",
        f"{scaling:.2f}x ({two.commands_per_s:.0f} vs {one.commands_per_s:.0f}/s)",
        scaling >= TWO_PROCESS_SCALING,
        "; ".join(n for n in notes if n),
    )


def _idle(impl: str, runs: Sequence[RunResult]) -> TargetCheck:
    idle = next((r.idle_rss_mib for r in runs if r.implementation == impl and r.idle_rss_mib is not None), None)
    return _check(
        impl,
        "idle RSS",
        f"<= {IDLE_RSS_MIB:.0f} MiB",
        None if idle is None else f"{idle:.1f} MiB",
        None if idle is None else idle <= IDLE_RSS_MIB,
    )


def _versus_rust(impl: str, runs: Sequence[RunResult]) -> TargetCheck:
    run, rust = _find(runs, "noop", impl), _find(runs, "noop", RUST)
    name = "noop throughput vs the Rust worker"
    if run is None or rust is None:
        return _check(impl, name, f">= {RUST_THROUGHPUT_RATIO}x", None, None, "no 'rust' peer in this run")
    value = ratio(run.commands_per_s, rust.commands_per_s)
    return _check(
        impl,
        name,
        f">= {RUST_THROUGHPUT_RATIO}x",
        None if value is None else f"{value:.2f}x ({run.commands_per_s:.0f} vs {rust.commands_per_s:.0f}/s)",
        None if value is None else value >= RUST_THROUGHPUT_RATIO,
    )


def _python(impl: str, runs: Sequence[RunResult], fork_cost_ms: float | None) -> TargetCheck:
    run, base = _find(runs, "python", impl), _find(runs, "python", BARELOOP)
    name = "python step CPU vs bare loop + fork cost"
    threshold = f"<= {PYTHON_CPU_RATIO:g}x bare + fork"
    if run is None or base is None or fork_cost_ms is None:
        return _check(impl, name, threshold, None, None)
    allowed = PYTHON_CPU_RATIO * base.cpu_s_per_1000 + fork_cost_ms
    return _check(
        impl,
        name,
        threshold,
        f"{run.cpu_s_per_1000:.2f} vs {allowed:.2f} ms ({base.cpu_s_per_1000:.2f} bare, {fork_cost_ms:.2f} fork)",
        run.cpu_s_per_1000 <= allowed,
    )


def check_targets(
    runs: Sequence[RunResult], implementations: Sequence[str], logical_cpus: int, fork_cost_ms: float | None = None
) -> list[TargetCheck]:
    """One line per target per implementation; a missing run reads "not measured", never "met"."""
    checks: list[TargetCheck] = []
    for impl in implementations:
        checks += _relative(impl, runs)
        checks += _latency(impl, runs)
        checks += [_sleep(impl, runs), _scaling(impl, runs, logical_cpus), _idle(impl, runs)]
        if impl != RUST:
            checks += [_versus_rust(impl, runs), _python(impl, runs, fork_cost_ms)]
    return checks
