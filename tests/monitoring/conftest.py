"""Fixtures of the monitoring tier: Prometheus and promtool built from the Go module proxy.

The binaries come from ``scripts/prometheus-assets`` (``make test`` builds them first, like the envtest
assets). When they are missing the tier skips with a one-line hint on a developer machine and FAILS in CI
(``CI=true``). Every test collected below ``tests/monitoring/`` gets the ``monitoring`` marker.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
_HERE = Path(__file__).parent
REPO_ROOT = _HERE.parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.monitoring)


def find_prometheus_assets() -> Path | None:
    """The folder with ``prometheus`` and ``promtool``: ``PROMETHEUS_ASSETS``, else the build cache."""
    given = os.environ.get("PROMETHEUS_ASSETS")
    if given and all((Path(given) / name).is_file() for name in ("prometheus", "promtool")):
        return Path(given)
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "prometheus-assets"), "--check"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def prometheus_assets() -> Path:
    assets = find_prometheus_assets()
    if assets is not None:
        return assets
    hint = (
        "Prometheus not built: run `scripts/prometheus-assets` (needs Go; see docs/testing.md) or set PROMETHEUS_ASSETS"
    )
    if IN_CI:
        pytest.fail(f"CI=true and {hint}", pytrace=False)
    pytest.skip(hint)


@pytest.fixture(scope="session")
def promtool(prometheus_assets: Path) -> Path:
    return prometheus_assets / "promtool"
