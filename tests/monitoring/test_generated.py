"""deploy/monitoring is what monitoring/definitions.py renders; every alert has tests and a runbook."""

from __future__ import annotations

import json
import re

import yaml

from monitoring.definitions import ALERTS, PANELS, duration, render_expr
from monitoring.generate import OUT_DIR, dashboard, main, rendered_files, rule_groups
from tests.monitoring.conftest import REPO_ROOT

RULE_TESTS = REPO_ROOT / OUT_DIR / "tests" / "noetl-workerpool.rules.test.yaml"


def test_the_committed_files_are_what_the_definitions_render() -> None:
    assert main(["--check", "--out", str(REPO_ROOT / OUT_DIR)]) == 0


def test_durations_and_scaled_windows() -> None:
    assert [duration(s) for s in (600, 30, 0.5, 90)] == ["10m", "30s", "500ms", "90s"]
    assert render_expr("rate(x[{w:300}]) + rate(y[{w:60}])", 0.05) == "rate(x[15s]) + rate(y[3s])"
    scaled = rule_groups(scale=0.05)["groups"][0]["rules"]
    assert {rule["for"] for rule in scaled} <= {"30s", "15s", "3s"}
    assert all("{w:" not in rule["expr"] for rule in scaled)


def test_every_alert_has_promtool_cases_and_a_runbook_section() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    tested = {case["alertname"] for test in cases["tests"] for case in test["alert_rule_test"]}
    assert tested == {alert.name for alert in ALERTS}
    operations = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", operations, flags=re.MULTILINE)
    }
    for alert in ALERTS:
        assert alert.runbook in anchors, f"{alert.name}: docs/operations.md has no section #{alert.runbook}"


def test_the_dashboard_has_a_pool_selector_and_every_panel() -> None:
    board = dashboard()
    variables = {variable["name"] for variable in board["templating"]["list"]}
    assert {"datasource", "namespace", "pool"} <= variables
    assert [panel["title"] for panel in board["panels"]] == [panel.title for panel in PANELS]
    for panel in board["panels"]:
        for target in panel["targets"]:
            assert 'pool=~"$pool"' in target["expr"], f"{panel['title']}: not filtered by the pool selector"


def test_the_configmap_carries_the_sidecar_label_and_the_same_json() -> None:
    files = rendered_files()
    configmap = yaml.safe_load(files["dashboard-configmap.yaml"])
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["noetl-workerpool.json"]) == json.loads(files["dashboard.json"])
