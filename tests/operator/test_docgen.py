"""docs/operator.md documents every spec field, condition, setting and permission, and is up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
from noetl_operator.docgen import DOC_PATH, main, render_document
from noetl_operator.settings import OperatorSettings
from noetl_operator.status import ConditionType

from tests.operator.crdcheck import ROOT

pytestmark = pytest.mark.unit

DOC = (ROOT / DOC_PATH).read_text(encoding="utf-8")


def test_document_is_up_to_date() -> None:
    assert render_document(DOC) == DOC, "docs/operator.md is stale: run `uv run python -m noetl_operator.docgen`"


def test_every_condition_and_setting_is_documented() -> None:
    for kind in ConditionType:
        assert f"| `{kind.value}` |" in DOC
    for env in OperatorSettings.env_names().values():
        assert f"| `{env}` |" in DOC


def test_nested_fields_are_documented_with_their_full_path() -> None:
    for path in ("spec.consumer.management", "spec.keychain.secretKeyRefs[].env", "spec.autoscaling.fallback.replicas"):
        assert f"| `{path}` |" in DOC


def test_check_mode_and_missing_markers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "operator.md"
    stale.write_text(DOC.replace("| `spec.runtime` |", "| `spec.rantime` |"), encoding="utf-8")
    assert main(["--check", "--path", str(stale)]) == 1
    assert main(["--path", str(stale)]) == 0
    assert main(["--check", "--path", str(stale)]) == 0
    stale.write_text("no markers", encoding="utf-8")
    assert main(["--path", str(stale)]) == 1
    assert "lacks the markers" in capsys.readouterr().err
