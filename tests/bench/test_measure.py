"""Pooling interleaved rounds: counts and CPU add up, latencies are pooled before percentiles are taken."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.measure import Measurement, Usage, combine
from bench.procs import MIB
from bench.scenarios import Scenario

pytestmark = pytest.mark.unit

PACED = Scenario("latency", "noop", 200, 32, mode="paced", rate=50.0)


def round_of(completed: int, window_s: float, cpu_s: float, claims: list[float], idle_mib: int) -> Measurement:
    return Measurement(
        commands=completed,
        completed=completed,
        failed=0,
        window_s=window_s,
        worker=Usage(cpu_s=cpu_s, peak_rss=60 * MIB),
        standin=Usage(cpu_s=0.5, peak_rss=80 * MIB),
        nats=Usage(cpu_s=0.1, peak_rss=20 * MIB),
        idle_rss=idle_mib * MIB,
        requests=Counter({"POST /api/commands/{event_id}/claim": completed, "POST /api/events/batch": 2 * completed}),
        claim_s=claims,
        complete_s=[c + 0.004 for c in claims],
        load_1m=2.0,
    )


def test_rounds_pool_into_one_result_with_rates_over_the_summed_windows() -> None:
    result = combine(
        PACED,
        "worker",
        [round_of(100, 2.0, 0.4, [0.001] * 100, 58), round_of(100, 2.0, 0.2, [0.003] * 100, 60)],
    )

    assert result.rounds == 2
    assert result.completed == 200
    assert result.commands_per_s == pytest.approx(50.0)
    assert result.cpu_s_per_1000 == pytest.approx(3.0)
    assert result.worker.cpu_share == pytest.approx(0.15)
    assert result.requests_per_command == pytest.approx(3.0)
    assert result.idle_rss_mib == pytest.approx(60.0)
    assert result.claim_latency is not None
    # Pooled samples: half at 1 ms, half at 3 ms, so the median sits between them.
    assert result.claim_latency.count == 200
    assert result.claim_latency.p50_ms == pytest.approx(2.0)
    assert result.notes == []


def test_a_paced_run_that_fell_behind_says_its_latencies_include_queueing() -> None:
    result = combine(PACED, "slow", [round_of(100, 4.0, 0.4, [0.2] * 100, 58)])

    assert any("kept up with only 25.0 of the 50/s" in note for note in result.notes)
