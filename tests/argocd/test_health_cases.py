"""The NoetlWorkerPool health check as real Argo CD evaluates it, with the argocd-cm users paste.

``argocd admin settings resource-overrides health`` calls the same ``GetResourceHealth`` as the
application-controller: Argo CD's own decisions first (an object being deleted), then our Lua under
gopher-lua. Every case of the Lua's test file (health_test.yaml, also run under lupa in
tests/shipping/test_argocd_health.py) must give the same verdict here, and the cases Argo CD decides
before the Lua (decided_by_argocd.yaml) give Argo CD's verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.argocd import ArgoCDError, resource_health
from tests.support.docsnippets import snippet

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECK = REPO_ROOT / "argocd" / "health" / "noetl.io" / "NoetlWorkerPool"
LUA_CASES = yaml.safe_load((CHECK / "health_test.yaml").read_text())["tests"]
ARGOCD_CASES = yaml.safe_load((CHECK / "decided_by_argocd.yaml").read_text())["tests"]


@pytest.fixture(scope="module")
def documented_argocd_cm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The argocd-cm snippet of docs/deploy.md, as a file for ``--argocd-cm-path``."""
    path = tmp_path_factory.mktemp("argocd-cm") / "argocd-cm.yaml"
    path.write_text(snippet(REPO_ROOT / "docs" / "deploy.md", "argocd-cm"))
    return path


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [Path(case["inputPath"]).stem for case in cases]


@pytest.mark.parametrize("case", [*LUA_CASES, *ARGOCD_CASES], ids=_ids([*LUA_CASES, *ARGOCD_CASES]))
def test_argo_cd_judges_each_sample_as_expected(
    case: dict[str, Any], argocd_assets: Path, documented_argocd_cm: Path, tmp_path: Path
) -> None:
    obj = yaml.safe_load((CHECK / case["inputPath"]).read_text())
    expected = (case["healthStatus"]["status"], case["healthStatus"]["message"])
    assert resource_health(argocd_assets, documented_argocd_cm, obj, tmp_path) == expected


def test_deletion_is_decided_before_the_lua(argocd_assets: Path, documented_argocd_cm: Path, tmp_path: Path) -> None:
    # A Degraded pool being deleted: were the Lua consulted it would say Degraded; Argo CD does not ask it.
    obj = yaml.safe_load((CHECK / "testdata" / "missing_secret.yaml").read_text())
    assert resource_health(argocd_assets, documented_argocd_cm, obj, tmp_path)[0] == "Degraded"
    obj["metadata"]["deletionTimestamp"] = "2026-11-29T05:30:00Z"
    obj["metadata"]["finalizers"] = ["noetl.io/consumer"]
    assert resource_health(argocd_assets, documented_argocd_cm, obj, tmp_path) == ("Progressing", "Pending deletion")


def test_without_the_customization_argo_cd_has_no_opinion(argocd_assets: Path, tmp_path: Path) -> None:
    # Proves the verdicts above come from our script: an argocd-cm without the key yields none.
    bare = tmp_path / "argocd-cm.yaml"
    bare.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}}))
    obj = yaml.safe_load((CHECK / "testdata" / "missing_secret.yaml").read_text())
    with pytest.raises(ArgoCDError, match="Health script is not configured"):
        resource_health(argocd_assets, bare, obj, tmp_path)
