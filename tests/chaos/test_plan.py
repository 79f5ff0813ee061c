"""The chaos plan's own assumptions: a live worker must never look dead to the stand-in's claim rules."""

from __future__ import annotations

import pytest

from tests.chaos.plan import ChaosPlan, standin_settings, worker_env

pytestmark = pytest.mark.unit

NAMES = {"NATS_STREAM": "S", "NATS_SUBJECT": "s", "NATS_CONSUMER": "c"}


def test_live_workers_heartbeat_several_times_within_the_staleness_the_standin_allows() -> None:
    plan = ChaosPlan(commands=1)
    interval = float(worker_env(plan, NAMES)["WORKER_HEARTBEAT_INTERVAL"])
    stale = float(standin_settings(plan, NAMES)["worker_heartbeat_stale_seconds"])
    # Otherwise the only thing keeping a live holder's claim is the lease, and the run counts the second run
    # of a command whose holder was merely slow as "outside the SIGKILL window".
    assert 3 * interval <= stale


def test_the_lease_outlasts_an_outage_plus_the_workers_longest_event_backoff() -> None:
    plan = ChaosPlan(commands=1, outage_seconds=30)
    assert standin_settings(plan, NAMES)["claim_lease_seconds"] >= plan.outage_seconds + 10
