"""Percentiles and summaries: the numbers every latency figure in the reports rests on."""

from __future__ import annotations

import pytest

from bench.stats import percentile, ratio, summarize

pytestmark = pytest.mark.unit


def test_percentile_interpolates_between_closest_ranks_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile(values, 95) == pytest.approx(3.85)


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_an_empty_sample_and_a_q_outside_0_to_100() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_summarize_reports_milliseconds_and_ignores_input_order() -> None:
    summary = summarize([0.003, 0.001, 0.002])
    assert summary is not None
    assert summary.count == 3
    assert summary.p50_ms == pytest.approx(2.0)
    assert summary.max_ms == pytest.approx(3.0)


def test_summarize_of_nothing_is_none_not_zero() -> None:
    assert summarize([]) is None


def test_ratio_is_unknown_when_either_side_is_unknown_or_the_base_is_zero() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0.0) is None
