"""The Argo CD health check for NoetlWorkerPool, run as Argo CD runs it: Lua 5.1 with the object as `obj`.

Cases live beside the script in Argo CD's own test format (health_test.yaml + testdata/), so the check
can be proposed upstream unchanged. Further cases build statuses with the operator's own status
functions, so the Lua keeps up with the reasons the operator really writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51
from noetl_operator.status import (
    ConditionType,
    condition,
    deployment_condition,
    merge_conditions,
    ready_and_degraded,
    scaler_condition,
)

from tests.shipping.dockerfiles import REPO_ROOT

pytestmark = pytest.mark.unit

CHECK = REPO_ROOT / "argocd" / "health" / "noetl.io" / "NoetlWorkerPool"
SCRIPT = (CHECK / "health.lua").read_text()
CASES = yaml.safe_load((CHECK / "health_test.yaml").read_text())["tests"]
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def health(obj: dict[str, Any]) -> dict[str, str]:
    """Evaluate the check the way Argo CD does: a fresh Lua state, `obj` as a global, a table back."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(SCRIPT)
    return dict(result.items())


@pytest.mark.parametrize("case", CASES, ids=[Path(case["inputPath"]).stem for case in CASES])
def test_sample_statuses(case: dict[str, Any]) -> None:
    obj = yaml.safe_load((CHECK / case["inputPath"]).read_text())
    assert health(obj) == case["healthStatus"]


def test_every_sample_file_has_an_expectation() -> None:
    # decided_by_argocd.yaml: samples Argo CD judges before the Lua runs (deletion); only the real binary
    # can check those (tests/argocd/test_health_cases.py).
    decided = yaml.safe_load((CHECK / "decided_by_argocd.yaml").read_text())["tests"]
    listed = [Path(case["inputPath"]).name for case in [*CASES, *decided]]
    assert sorted(listed) == sorted(path.name for path in (CHECK / "testdata").glob("*.yaml"))
    assert {case["healthStatus"]["status"] for case in [*CASES, *decided]} <= ARGO_STATUSES


def pool_with(conditions: list[dict[str, Any]], generation: int = 5, observed: int = 5) -> dict[str, Any]:
    return {
        "apiVersion": "noetl.io/v1alpha1",
        "kind": "NoetlWorkerPool",
        "metadata": {"name": "shared", "namespace": "noetl", "generation": generation},
        "status": {"observedGeneration": observed, "conditions": conditions},
    }


def operator_status(
    *, deployment: dict[str, Any] | None, keda: bool, scaled_object: dict[str, Any] | None, problems: list[str]
) -> list[dict[str, Any]]:
    """Conditions exactly as the operator's status module writes them for generation 5."""
    parts = [
        deployment_condition(deployment, 5),
        condition(ConditionType.CONSUMER_READY, True, "Observed", "durable noetl_worker_pool", 5),
        scaler_condition(enabled=True, keda_installed=keda, scaled_object=scaled_object, generation=5),
        condition(
            ConditionType.SECRETS_RESOLVED, not problems, "Resolved" if not problems else "SecretNotFound", "", 5
        ),
    ]
    ready, degraded = ready_and_degraded(parts, problems, 5)
    return merge_conditions([], [*parts, ready, degraded], "2026-11-29T05:00:00Z")


AVAILABLE = {
    "metadata": {"generation": 2},
    "status": {"observedGeneration": 2, "conditions": [{"type": "Available", "status": "True"}]},
}
READY_SCALER = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ScaledObjectReady"}]}}


def test_operator_ready_pool_is_healthy() -> None:
    conditions = operator_status(deployment=AVAILABLE, keda=True, scaled_object=READY_SCALER, problems=[])
    assert health(pool_with(conditions))["status"] == "Healthy"


def test_operator_pool_mid_rollout_is_progressing() -> None:
    rolling = {"metadata": {"generation": 3}, "status": {"observedGeneration": 2}}
    conditions = operator_status(deployment=rolling, keda=True, scaled_object=READY_SCALER, problems=[])
    assert health(pool_with(conditions))["status"] == "Progressing"


def test_operator_pool_waiting_for_keda_is_progressing() -> None:
    conditions = operator_status(deployment=AVAILABLE, keda=True, scaled_object={"status": {}}, problems=[])
    assert health(pool_with(conditions))["status"] == "Progressing"


def test_operator_pool_without_keda_is_degraded() -> None:
    conditions = operator_status(deployment=AVAILABLE, keda=False, scaled_object=None, problems=[])
    result = health(pool_with(conditions))
    assert result["status"] == "Degraded"
    assert "ScaledObject API is not served" in result["message"]


def test_operator_pool_with_a_missing_secret_is_degraded_naming_it() -> None:
    conditions = operator_status(
        deployment=AVAILABLE, keda=True, scaled_object=READY_SCALER, problems=["secret creds not found"]
    )
    assert health(pool_with(conditions)) == {"status": "Degraded", "message": "secret creds not found"}


def test_operator_status_from_an_older_generation_is_progressing() -> None:
    conditions = operator_status(deployment=AVAILABLE, keda=True, scaled_object=READY_SCALER, problems=[])
    assert health(pool_with(conditions, generation=6, observed=5))["status"] == "Progressing"
