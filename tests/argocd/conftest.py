"""Fixtures of the argocd tier: the Argo CD binaries built by ``scripts/argocd-assets``.

Every test collected below ``tests/argocd/`` gets the ``argocd`` marker. When the assets are missing the
tier skips with a one-line hint on a developer machine and FAILS in CI (``CI=true``), like the envtest
tier: a skipped tier would be a green run that proved nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.argocd import find_argocd_assets

IN_CI = os.environ.get("CI", "").lower() == "true"
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.argocd)


@pytest.fixture(scope="session")
def argocd_assets() -> Path:
    """The folder with ``argocd`` (and its controller symlinks), ``kustomize`` and Argo CD's CRDs."""
    assets = find_argocd_assets()
    if assets is not None:
        return assets
    hint = "Argo CD assets not built: run `scripts/argocd-assets` (needs Go and redis-server; see docs/testing.md)"
    if IN_CI:
        pytest.fail(f"CI=true and {hint}", pytrace=False)
    pytest.skip(hint)
