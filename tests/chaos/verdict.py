"""What "the pool survived" means, asserted in the order a reader wants to know it, and the printed figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.chaos.report import ChaosReport

__all__ = ["assert_chaos_survived", "publish_report"]


def assert_chaos_survived(report: ChaosReport) -> None:
    assert report.completed == report.submitted, report.render()
    assert report.lost == 0, report.render()
    assert len(report.accepted_outcomes) == report.submitted, report.render()
    assert all(n == 1 for n in report.accepted_outcomes.values()), "an outcome was accepted twice"
    assert report.unexplained_double_runs == {}, report.render()
    # A killed worker can have run at most one tool per slot whose outcome then went unreported.
    assert report.extra_runs <= report.killed_workers * report.plan.slots, report.render()
    assert report.unexpected_exits == 0, report.render()
    assert report.poison_dead_lettered == report.poison_published > 0, report.render()
    assert report.real_commands_dead_lettered == 0, report.render()
    assert report.consumer_settled, report.render()
    # Each scheduled HTTP fault really happened (a fault that never fired would make the run look better).
    fired = {f.kind for f in report.faults}
    expected = {"http_503_burst": "saturated", "control_plane_down": "outage", "drop_after_commit": "dropped_response"}
    for kind, counter in expected.items():
        assert kind not in fired or report.injected[counter] > 0, f"{kind} was scheduled but never applied"


def publish_report(report: ChaosReport, name: str) -> None:
    """Print the figures; with ``NOETL_CHAOS_REPORT_DIR`` also write ``<name>.txt`` and ``<name>.json`` there."""
    print("\n" + report.render())
    target = os.environ.get("NOETL_CHAOS_REPORT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / f"{name}.json").write_text(json.dumps(report.as_json(), indent=2))
        (Path(target) / f"{name}.txt").write_text(report.render())
