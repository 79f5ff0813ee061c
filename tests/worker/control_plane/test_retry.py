"""Backoff: exponential with full jitter, capped, never sooner than Retry-After."""

from __future__ import annotations

import pytest
from noetl_worker.control_plane.retry import Backoff, is_transient_status

pytestmark = pytest.mark.unit


def test_delays_grow_and_stay_under_the_cap() -> None:
    backoff = Backoff(initial=0.1, cap=1.0, floor=0.0)
    for attempt in range(20):
        ceiling = min(1.0, 0.1 * 2**attempt)
        for _ in range(50):
            assert 0.0 <= backoff.delay(attempt) <= ceiling


def test_jitter_spreads_retries() -> None:
    assert len({round(Backoff().delay(5), 6) for _ in range(20)}) > 10


def test_retry_after_is_a_floor_stretched_gently_on_repeated_refusals() -> None:
    backoff = Backoff(initial=0.1, cap=30.0)
    for _ in range(50):
        assert 2.0 <= backoff.delay(0, retry_after=2.0) <= 2.5
        assert 3.0 <= backoff.delay(1, retry_after=2.0) <= 3.75
        assert 20.0 <= backoff.delay(50, retry_after=2.0) <= 25.0  # at most ten times the hint
        assert backoff.delay(50, retry_after=20.0) == 30.0  # and never past the cap, but never under the hint
        assert backoff.delay(0, retry_after=40.0) == 40.0


@pytest.mark.parametrize(("status", "transient"), [(503, True), (429, True), (408, True), (500, False), (422, False)])
def test_transient_statuses(status: int, transient: bool) -> None:
    assert is_transient_status(status) is transient
