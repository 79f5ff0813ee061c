"""``noetl-worker dev``: one command starts nats-server, the stand-in and a worker, runs the sample job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def dev(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "noetl_worker", "dev", *args],
        cwd=cwd, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


def test_dev_mode_runs_the_sample_job_and_reports_throughput() -> None:
    result = dev()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed: 27/27 commands" in result.stdout
    assert "commands/s" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("job", sorted(p.name for p in (REPO / "examples" / "jobs").glob("*.yaml")))
def test_every_example_job_completes(job: str) -> None:
    result = dev("--job", str(REPO / "examples" / "jobs" / job))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed:" in result.stdout


def test_dev_mode_finds_the_sample_job_from_any_directory(tmp_path: Path) -> None:
    result = dev("--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 worker(s)" in result.stdout


def test_a_broken_job_file_is_a_clear_error(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("commands:\n  - name: a\n    kind: noop\n    after: [ghost]\n")
    result = dev("--job", str(job))
    assert result.returncode == 2
    assert "depends on unknown commands ['ghost']" in result.stderr
    assert "Traceback" not in result.stderr
