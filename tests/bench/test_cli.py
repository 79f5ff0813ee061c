"""The harness end to end with tiny sizes: real nats-server, the stand-in, the bare loop and the worker.

This proves the benchmark runs (CI keeps it working); its figures are not meant to be read — speed targets
are judged by ``python -m bench`` on a quiet machine, never by timed tests.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def bench(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_quick_worker_run_measures_the_bare_loop_and_the_worker_side_by_side(tmp_path: Path) -> None:
    done = bench("worker", "--quick", "--scenarios", "noop,latency,python", "--out", str(tmp_path), "--json")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert json.loads((tmp_path / "worker.json").read_text()) == report
    assert report["settings"]["control_plane"] == "fast"
    runs = {(r["scenario"], r["implementation"]): r for r in report["runs"]}
    assert set(runs) == {(s, i) for s in ("noop", "latency", "python") for i in ("bareloop", "worker")}
    for run in runs.values():
        # Counted from the control plane's event log: every command completed, none failed.
        assert run["completed"] == run["commands"] > 0
        assert run["failed"] == 0
        assert run["commands_per_s"] > 0
        # At least claim + two event batches per command, all served by the stand-in.
        assert run["requests_per_command"] >= 3
        assert run["requests_by_route"]["POST /api/commands/{event_id}/claim"] >= run["commands"]
        assert run["worker"]["cpu_s"] > 0
        # The control plane's own CPU per request it answered is reported beside every figure (a quick run is
        # too short for the 50 ms sampler to see it reliably, so only its presence is asserted here).
        assert run["control_plane_us_per_request"] is not None
    for impl in ("bareloop", "worker"):
        latency = runs[("latency", impl)]
        assert latency["claim_latency"]["count"] == latency["commands"]
        assert 0 < latency["claim_latency"]["p50_ms"] <= latency["complete_latency"]["p50_ms"]
        assert latency["idle_rss_mib"] > 0
    assert {(r["metric"], r["implementation"]) for r in report["ratios"] if r["scenario"] == "noop"} >= {
        ("throughput", "worker"),
        ("cpu_per_command", "worker"),
    }
    statuses = {t["target"]: t["status"] for t in report["targets"]}
    assert statuses["idle RSS"] in {"met", "missed"}
    # The python step is judged against the bare loop plus the fork cost, which the run measured.
    assert report["fork_cost_ms"] > 0
    assert statuses["python step CPU vs bare loop + fork cost"] in {"met", "missed"}
    assert statuses["noop throughput vs the Rust worker"] == "not measured"
    assert report["machine"]["logical_cpus"] >= 1


def test_the_stand_in_can_answer_a_run_instead_of_the_fast_control_plane(tmp_path: Path) -> None:
    done = bench(
        "worker", "--quick", "--scenarios", "noop", "--control-plane", "standin", "--out", str(tmp_path), "--json"
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["settings"]["control_plane"] == "standin"
    for run in report["runs"]:
        assert run["completed"] == run["commands"] > 0
        assert run["requests_by_route"]["POST /api/events/batch"] >= 2 * run["commands"]


def test_an_unknown_scenario_is_refused_before_anything_starts(tmp_path: Path) -> None:
    done = bench("worker", "--scenarios", "noop,warp", "--out", str(tmp_path), timeout=30)

    assert done.returncode == 2
    assert "unknown warp" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "worker.json").exists()


def test_a_worker_command_that_cannot_start_is_named_in_a_one_line_error(tmp_path: Path) -> None:
    done = bench(
        "worker",
        "--quick",
        "--scenarios",
        "noop",
        "--no-default-worker",
        "--worker-cmd",
        "ghost=/nonexistent/noetl-worker",
        "--out",
        str(tmp_path),
        "--json",
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [r["implementation"] for r in report["runs"]] == ["bareloop"]
    assert any("ghost" in note and "/nonexistent/noetl-worker" in note for note in report["notes"])
    assert "Traceback" not in done.stderr


def test_sigterm_mid_run_stops_every_process_the_run_started(tmp_path: Path) -> None:
    argv = ["worker", "--scenarios", "sleep", "--sleep-commands", "2000", "--out", str(tmp_path)]
    bench_process = subprocess.Popen(
        [sys.executable, "-m", "bench", *argv],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    parent = psutil.Process(bench_process.pid)
    deadline = time.monotonic() + 60
    started: list[psutil.Process] = []
    # Wait until a measured implementation runs, so servers and a worker are all up.
    while not any("bareloop" in " ".join(p.cmdline()) or "noetl_worker" in " ".join(p.cmdline()) for p in started):
        assert time.monotonic() < deadline, "no worker process appeared within 60 s"
        time.sleep(0.2)
        started = []
        for child in parent.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.cmdline()
                started.append(child)

    bench_process.send_signal(signal.SIGTERM)
    _, stderr = bench_process.communicate(timeout=90)

    assert bench_process.returncode == 130
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    _, alive = psutil.wait_procs(started, timeout=10)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"
