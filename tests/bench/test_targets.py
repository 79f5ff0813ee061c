"""Targets and ratios: what the report claims about a run must follow from the run's figures alone."""

from __future__ import annotations

from typing import Any

import pytest

from bench.results import ProcessUsage, RunResult, TargetCheck
from bench.stats import summarize
from bench.targets import check_targets, compute_ratios

pytestmark = pytest.mark.unit


def run(scenario: str, impl: str, per_s: float, cpu_per_1k: float = 5.0, **extra: Any) -> RunResult:
    usage = ProcessUsage(cpu_s=1.0, cpu_share=0.1, peak_rss_mib=50.0)
    fields: dict[str, Any] = {
        "scenario": scenario,
        "implementation": impl,
        "processes": 1,
        "slots": 32,
        "rounds": 1,
        "commands": 100,
        "completed": 100,
        "failed": 0,
        "window_s": 100 / per_s,
        "commands_per_s": per_s,
        "claim_latency": None,
        "complete_latency": None,
        "worker": usage,
        "cpu_s_per_1000": cpu_per_1k,
        "idle_rss_mib": None,
        "requests_per_command": 3.0,
        "requests_by_route": {},
        "standin": usage,
        "nats": usage,
        "load_1m": 1.0,
    }
    return RunResult(**{**fields, **extra})


def status_of(checks: list[TargetCheck], target_prefix: str) -> str:
    return next(c.status for c in checks if c.target.startswith(target_prefix))


def test_throughput_and_cpu_targets_are_relative_to_the_bare_loop_of_the_same_run() -> None:
    runs = [run("noop", "bareloop", 100.0, 4.0), run("noop", "worker", 71.0, 6.1)]

    checks = check_targets(runs, ["worker"], logical_cpus=8)

    assert status_of(checks, "noop throughput") == "met"  # 0.71x >= 0.7x
    assert status_of(checks, "noop CPU per command") == "missed"  # 1.525x > 1.5x


def test_a_scenario_that_did_not_run_is_not_measured_never_met() -> None:
    checks = check_targets([run("noop", "worker", 10.0)], ["worker"], logical_cpus=8)

    assert {c.status for c in checks} == {"not measured"}


def test_latency_targets_read_the_paced_runs_claim_percentiles() -> None:
    latency = summarize([0.001] * 98 + [0.012, 0.012])
    checks = check_targets([run("latency", "worker", 50.0, claim_latency=latency)], ["worker"], logical_cpus=8)

    assert status_of(checks, "publish -> claim at light load, p50") == "met"
    assert status_of(checks, "publish -> claim at light load, p99") == "missed"


def test_io_wait_efficiency_is_the_share_of_what_the_slots_allow() -> None:
    sleep = run("sleep", "worker", 76.5, ideal_commands_per_s=80.0, slots=8)

    checks = check_targets([sleep], ["worker"], logical_cpus=8)

    assert status_of(checks, "I/O wait, 8 slots") == "met"


def test_two_process_scaling_names_a_saturated_stand_in_and_a_small_machine() -> None:
    saturated = ProcessUsage(cpu_s=10.0, cpu_share=0.95, peak_rss_mib=80.0)
    runs = [run("noop", "worker", 100.0), run("two-process", "worker", 150.0, processes=2, standin=saturated)]

    check = next(c for c in check_targets(runs, ["worker"], logical_cpus=2) if c.target.startswith("two processes"))

    assert check.status == "missed"
    assert "stand-in saturated" in check.detail
    assert "2 CPUs" in check.detail


def test_ratios_pair_each_implementation_with_the_bare_loop_of_its_own_scenario() -> None:
    runs = [
        run("noop", "bareloop", 100.0, 4.0),
        run("noop", "worker", 50.0, 8.0),
        run("sleep", "worker", 70.0),  # no bare loop in this scenario: no ratio
    ]

    ratios = {(r.scenario, r.metric): r.value for r in compute_ratios(runs)}

    assert ratios[("noop", "throughput")] == pytest.approx(0.5)
    assert ratios[("noop", "cpu_per_command")] == pytest.approx(2.0)
    assert not any(scenario == "sleep" for scenario, _ in ratios)
