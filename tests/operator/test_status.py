"""Conditions are computed from the children's own status and only move lastTransitionTime on a change."""

from __future__ import annotations

import pytest
from noetl_operator.status import (
    ConditionType,
    condition,
    deployment_condition,
    merge_conditions,
    ready_and_degraded,
    scaler_condition,
)

pytestmark = pytest.mark.unit


def _deployment(generation: int, observed: int, *conditions: dict[str, str]) -> dict[str, object]:
    return {
        "metadata": {"generation": generation},
        "status": {"observedGeneration": observed, "conditions": list(conditions)},
    }


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        (None, ("False", "NotCreated")),
        (_deployment(2, 1), ("False", "Progressing")),
        (_deployment(1, 1), ("False", "Progressing")),
        (_deployment(1, 1, {"type": "Available", "status": "True"}), ("True", "Available")),
        (
            _deployment(1, 1, {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}),
            ("False", "MinimumReplicasUnavailable"),
        ),
        (
            _deployment(
                1,
                1,
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "stuck"},
            ),
            ("False", "ProgressDeadlineExceeded"),
        ),
    ],
)
def test_deployment_available_follows_the_deployment_controller(
    deployment: dict[str, object] | None, expected: tuple[str, str]
) -> None:
    result = deployment_condition(deployment, 1)
    assert (result.status, result.reason) == expected
    assert result.observed_generation == 1


def test_scaler_ready_mirrors_keda() -> None:
    def scaler(*conditions: dict[str, str]) -> tuple[str, str]:
        so = {"status": {"conditions": list(conditions)}}
        result = scaler_condition(enabled=True, keda_installed=True, scaled_object=so, generation=3)
        return result.status, result.reason

    assert scaler() == ("Unknown", "Pending")
    assert scaler({"type": "Ready", "status": "True", "reason": "ScaledObjectReady"}) == ("True", "ScaledObjectReady")
    assert scaler({"type": "Ready", "status": "False", "reason": "TriggerError"}) == ("False", "TriggerError")
    assert scaler({"type": "Ready", "status": "True"}, {"type": "Fallback", "status": "True"}) == ("False", "Fallback")
    off = scaler_condition(enabled=False, keda_installed=False, scaled_object=None, generation=3)
    assert (off.status, off.reason) == ("True", "AutoscalingDisabled")
    missing = scaler_condition(enabled=True, keda_installed=False, scaled_object=None, generation=3)
    assert (missing.status, missing.reason) == ("False", "KedaNotInstalled")
    assert "install KEDA or set autoscaling.enabled=false" in missing.message


def test_ready_needs_every_part_true_and_nothing_degraded() -> None:
    parts = [
        condition(ConditionType.SECRETS_RESOLVED, True, "Resolved", "", 1),
        condition(ConditionType.CONSUMER_READY, False, "NatsUnavailable", "down", 1),
    ]
    ready, degraded = ready_and_degraded(parts, [], 1)
    assert (ready.status, degraded.status) == ("False", "False")
    assert ready.message == "ConsumerReady=False (NatsUnavailable)"
    ready, degraded = ready_and_degraded(parts[:1], ["SecretsResolved: gone"], 1)
    assert (ready.status, degraded.status, degraded.message) == ("False", "True", "SecretsResolved: gone")
    ready, degraded = ready_and_degraded(parts[:1], [], 1)
    assert (ready.status, ready.reason, degraded.reason) == ("True", "Ready", "AsExpected")


def test_last_transition_time_moves_only_when_the_status_changes() -> None:
    first = merge_conditions([], [condition(ConditionType.READY, False, "NotReady", "", 1)], "2026-01-01T00:00:00Z")
    same = merge_conditions(first, [condition(ConditionType.READY, False, "Other", "", 2)], "2026-01-01T00:05:00Z")
    flipped = merge_conditions(same, [condition(ConditionType.READY, True, "Ready", "", 2)], "2026-01-01T00:09:00Z")
    assert first[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert (same[0]["lastTransitionTime"], same[0]["reason"], same[0]["observedGeneration"]) == (
        "2026-01-01T00:00:00Z",
        "Other",
        2,
    )
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T00:09:00Z"
