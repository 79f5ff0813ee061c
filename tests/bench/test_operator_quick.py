"""The operator benchmark end to end with tiny sizes on a real API server (envtest), to prove it runs.

``--quick`` shortens the operator's resync timer so this takes seconds; its figures are not the shipped
operator's and the report says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.envtest import find_assets

pytestmark = [pytest.mark.envtest, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]


def test_quick_operator_run_times_pools_to_ready_and_reads_the_operators_cost(tmp_path: Path) -> None:
    if find_assets() is None:
        # In CI (CI=true) the suite's hook turns this skip into a failure, as for the envtest tier.
        pytest.skip("envtest assets not built: run scripts/envtest-assets")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "operator", "--quick", "--out", str(tmp_path), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["create_to_ready"]["count"] == 3
    assert 0 < report["create_to_ready"]["p50_ms"] < 60_000
    assert report["cold_start_pools"] == 5
    assert 0 < report["cold_start_s"] < 60
    assert report["idle_cpu_share"] >= 0
    assert report["peak_rss_mib"] > 0
    assert any("resync interval set to 1 s" in note for note in report["notes"])
    assert {t["target"] for t in report["targets"]} >= {"pool create -> Ready, p95", "operator peak RSS"}
