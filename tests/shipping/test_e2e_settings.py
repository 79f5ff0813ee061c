"""The e2e suite without a cluster: a clear error for an unknown backend, and a one-line skip for everything."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from e2e.harness.cluster import connect
from e2e.harness.settings import E2ESettings
from tests.shipping.dockerfiles import REPO_ROOT

pytestmark = pytest.mark.unit


def test_an_unknown_backend_is_named_with_the_known_ones() -> None:
    known = r"\(known: auto, docker, envtest, kubeconfig\)"
    with pytest.raises(ValueError, match=rf"NOETL_E2E_BACKEND='podman' is not a known backend {known}"):
        connect(E2ESettings(backend="podman"))


def test_the_suite_skips_in_one_line_without_a_cluster() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOETL_E2E_")}
    env.pop("CI", None)
    # Only the kubeconfig backend: the default (auto) falls back to a local envtest stack instead of skipping.
    env["NOETL_E2E_BACKEND"] = "kubeconfig"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "e2e/tests", "-q", "-rs", "-p", "no:cacheprovider"],
        check=False,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout
    assert "no cluster configured: set NOETL_E2E_KUBECONFIG (e2e/kind/run.sh does)" in result.stdout
    assert " skipped" in result.stdout.splitlines()[-1]
