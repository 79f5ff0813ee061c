"""The e2e suite's CI rule: where no cluster can be had, a developer gets a one-line skip and CI a failure.

e2e/tests is outside tests/, so tests/conftest.py's rule does not reach it; e2e/tests/conftest.py
carries its own. These run the real suite in a child pytest with a backend that cannot start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def run_suite(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOETL_E2E_") and k != "CI"}
    env.update({"NOETL_E2E_BACKEND": "kubeconfig", **({"CI": "true"} if ci else {})})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "e2e/tests", "-q", "-rs", "-p", "no:cacheprovider", "-k", "completes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_a_cluster_a_developer_gets_a_skip_saying_what_to_set() -> None:
    done = run_suite(ci=False)

    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout
    assert "no cluster configured: set NOETL_E2E_KUBECONFIG" in done.stdout


def test_without_a_cluster_ci_fails_instead_of_passing_green() -> None:
    done = run_suite(ci=True)

    assert done.returncode == 1, done.stdout
    assert "1 error" in done.stdout  # the skip happened in fixture set-up, so it is reported as an error
    assert "skipped an e2e test in CI (CI=true): Skipped: no cluster configured" in done.stdout
