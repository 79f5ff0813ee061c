"""deploy/overlays/monitoring renders, and its prometheus-operator objects validate against that operator's
CRD schemas (v0.85.0, copied into prometheus-operator-crds/), with unknown fields rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.monitoring.conftest import REPO_ROOT
from tests.operator.crdcheck import crd_schema, validate
from tests.shipping.manifests import Manifest, of_kind, render

CRDS = Path(__file__).parent / "prometheus-operator-crds"
SCHEMAS = {
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.yaml",
    "PodMonitor": "monitoring.coreos.com_podmonitors.yaml",
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
}


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return render(REPO_ROOT / "deploy" / "overlays" / "monitoring")


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_prometheus_operator_objects_match_the_crd_schema(manifests: list[Manifest], kind: str) -> None:
    objects = of_kind(manifests, kind)
    assert objects, f"the overlay ships no {kind}"
    schema = crd_schema(CRDS / SCHEMAS[kind])
    for obj in objects:
        assert validate(schema, obj) == [], f"{kind}/{obj['metadata']['name']}"


def test_a_typo_is_caught_by_the_schema() -> None:
    schema = crd_schema(CRDS / SCHEMAS["PodMonitor"])
    wrong = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "x"}}
    wrong["spec"] = {"selector": {}, "podMetricsEndpoints": [{"port": "metrics", "honourLabels": True}]}
    assert validate(schema, wrong)


def test_the_monitors_scrape_the_ports_the_operator_and_the_workers_expose(manifests: list[Manifest]) -> None:
    (service_monitor,) = of_kind(manifests, "ServiceMonitor")
    (service,) = [s for s in of_kind(manifests, "Service") if s["metadata"]["name"] == "noetl-operator-metrics"]
    assert service_monitor["spec"]["endpoints"][0]["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert service_monitor["spec"]["endpoints"][0]["honorLabels"] is True
    labels = service["metadata"]["labels"]
    assert service_monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (workers,) = of_kind(manifests, "PodMonitor")
    assert workers["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "noetl-worker"}
    assert workers["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"  # the name the Deployment builder uses
    relabels = workers["spec"]["podMetricsEndpoints"][0]["relabelings"]
    assert {"sourceLabels": ["__meta_kubernetes_pod_label_noetl_io_pool"], "targetLabel": "pool"} in relabels
    (configmap,) = [c for c in of_kind(manifests, "ConfigMap") if c["metadata"]["name"].endswith("dashboard")]
    assert configmap["metadata"]["namespace"] == "noetl-system"
