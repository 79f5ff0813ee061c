"""The shipped rules pass ``promtool check rules`` and every ``promtool test rules`` case."""

from __future__ import annotations

import subprocess
from pathlib import Path

from monitoring.definitions import ALERTS
from monitoring.generate import OUT_DIR, RULES_FILE
from tests.monitoring.conftest import REPO_ROOT

RULES = REPO_ROOT / OUT_DIR / RULES_FILE
RULE_TESTS = REPO_ROOT / OUT_DIR / "tests" / "noetl-workerpool.rules.test.yaml"


def _promtool(promtool: Path, *args: str) -> str:
    result = subprocess.run([str(promtool), *args], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_rules_file_is_valid(promtool: Path) -> None:
    assert f"SUCCESS: {len(ALERTS)} rules found" in _promtool(promtool, "check", "rules", str(RULES))


def test_every_alert_fires_when_its_condition_holds_and_only_then(promtool: Path) -> None:
    assert "SUCCESS" in _promtool(promtool, "test", "rules", str(RULE_TESTS))
