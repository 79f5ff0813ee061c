"""The metrics Service, the PodDisruptionBudget and the optional ServiceAccount."""

from __future__ import annotations

import pytest

from tests.operator.builders.support import children_of

pytestmark = pytest.mark.unit


def test_metrics_service_is_headless_on_the_metrics_port() -> None:
    service = children_of("minimal.yaml").metrics_service
    assert service["metadata"]["name"] == "noetl-worker-minimal-metrics"
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]


def test_pdb_uses_max_unavailable_and_can_be_turned_off() -> None:
    pdb = children_of("minimal.yaml").pdb
    assert pdb is not None
    assert pdb["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pdb["spec"]
    assert children_of("minimal.yaml", podDisruptionBudget={"enabled": False}).pdb is None


def test_service_account_is_created_only_on_request_and_then_used_by_the_pods() -> None:
    assert children_of("minimal.yaml").service_account is None
    children = children_of("minimal.yaml", serviceAccount={"create": True, "annotations": {"iam.gke.io/x": "y"}})
    account = children.service_account
    assert account is not None
    assert account["metadata"]["name"] == "noetl-worker-minimal"
    assert account["metadata"]["annotations"] == {"iam.gke.io/x": "y"}
    pod = children.deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "noetl-worker-minimal"
    assert pod["automountServiceAccountToken"] is True
    assert children.present()[0] is account, "the account is applied before the pods that use it"
