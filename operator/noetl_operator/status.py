"""Pool status the Kubernetes way: ``observedGeneration``, typed conditions, replicas and lag.

Each condition carries ``reason``, ``message`` and ``observedGeneration``; ``lastTransitionTime`` moves
only when a condition's status changes, so Argo CD and ``kubectl wait`` see stable transitions. ``Ready``
summarises the others; ``Degraded`` is true only for problems that need a human (a missing Secret, KEDA
absent while autoscaling, a consumer the server refused), not for a rollout in progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "Condition",
    "ConditionType",
    "ConsumerLag",
    "PoolStatus",
    "deployment_condition",
    "merge_conditions",
    "ready_and_degraded",
    "scaler_condition",
]

Status = Literal["True", "False", "Unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel)


class ConditionType(StrEnum):
    """The condition types a pool reports."""

    READY = "Ready"
    DEPLOYMENT_AVAILABLE = "DeploymentAvailable"
    CONSUMER_READY = "ConsumerReady"
    SCALER_READY = "ScalerReady"
    SECRETS_RESOLVED = "SecretsResolved"
    DEGRADED = "Degraded"


CONDITION_DOCS: dict[ConditionType, str] = {
    ConditionType.READY: "True when every other condition is satisfied and Degraded is False.",
    ConditionType.DEPLOYMENT_AVAILABLE: (
        "The worker Deployment is Available and its controller has observed the current generation."
    ),
    ConditionType.CONSUMER_READY: (
        "The durable consumer exists with the expected configuration (managed) or filter subject (observe)."
    ),
    ConditionType.SCALER_READY: (
        "The KEDA ScaledObject reports Ready (or autoscaling is disabled); False with reason KedaNotInstalled "
        "when the ScaledObject CRD is missing."
    ),
    ConditionType.SECRETS_RESOLVED: "Every referenced Secret and key exists in the pool's namespace.",
    ConditionType.DEGRADED: (
        "A problem that needs a human: invalid spec (InvalidSpec), a child refused by the API server "
        "(ApplyRejected), a missing Secret or KEDA, a refused or mismatched consumer."
    ),
}


class Condition(_Model):
    """One status condition."""

    type: ConditionType = Field(description="Condition type.")
    status: Status = Field(description="`True`, `False` or `Unknown`.")
    reason: str = Field(description="CamelCase reason.")
    message: str = Field(description="Human-readable detail.")
    observed_generation: int | None = Field(default=None, description="Generation the condition was computed for.")
    last_transition_time: str | None = Field(default=None, description="When the status last changed (RFC 3339).")


class ConsumerLag(_Model):
    """The durable consumer's backlog, as KEDA sees it."""

    num_pending: int = Field(description="Messages not yet delivered to the consumer.")
    num_ack_pending: int = Field(description="Messages delivered but not yet acknowledged.")
    total: int = Field(description="`numPending + numAckPending` (KEDA's lag).")
    checked_at: str = Field(description="When the lag was read (RFC 3339).")


class PoolStatus(_Model):
    """Observed state of a pool."""

    observed_generation: int | None = Field(default=None, description="Generation of the last reconciled spec.")
    conditions: list[Condition] = Field(default_factory=list, description="Status conditions.")
    replicas: int | None = Field(default=None, description="Pods of the Deployment.")
    ready_replicas: int | None = Field(default=None, description="Ready pods.")
    updated_replicas: int | None = Field(default=None, description="Pods on the current template.")
    selector: str | None = Field(default=None, description="Pod label selector (string form, for `/scale`).")
    deployment_name: str | None = Field(default=None, description="Name of the worker Deployment.")
    scaled_object_name: str | None = Field(default=None, description="Name of the KEDA ScaledObject.")
    image: str | None = Field(default=None, description="Worker image in use.")
    keychain_env_vars: list[str] = Field(default_factory=list, description="Keychain entry names (never values).")
    lag: ConsumerLag | None = Field(default=None, description="Consumer lag at the last check.")


def now_rfc3339() -> str:
    """The current time as Kubernetes writes it."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def condition(kind: ConditionType, ok: bool | None, reason: str, message: str, generation: int | None) -> Condition:
    """Build a condition; ``ok=None`` means Unknown."""
    status: Status = "Unknown" if ok is None else ("True" if ok else "False")
    return Condition(type=kind, status=status, reason=reason, message=message, observed_generation=generation)


def _find(conditions: Iterable[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((item for item in conditions if item.get("type") == kind), None)


def deployment_condition(deployment: Mapping[str, Any] | None, generation: int | None) -> Condition:
    """DeploymentAvailable from the Deployment's own status."""
    kind = ConditionType.DEPLOYMENT_AVAILABLE
    if deployment is None:
        return condition(kind, False, "NotCreated", "the worker Deployment has not been applied", generation)
    status = deployment.get("status") or {}
    metadata = deployment.get("metadata") or {}
    if status.get("observedGeneration", 0) < metadata.get("generation", 0):
        return condition(
            kind, False, "Progressing", "the Deployment controller has not observed the change", generation
        )
    stalled = _find(status.get("conditions") or (), "Progressing")
    if stalled is not None and stalled.get("reason") == "ProgressDeadlineExceeded":
        return condition(kind, False, "ProgressDeadlineExceeded", str(stalled.get("message", "")), generation)
    available = _find(status.get("conditions") or (), "Available")
    if available is None:
        return condition(kind, False, "Progressing", "the Deployment reports no Available condition yet", generation)
    ok = available.get("status") == "True"
    reason = "Available" if ok else str(available.get("reason") or "Unavailable")
    return condition(kind, ok, reason, str(available.get("message", "")), generation)


def scaler_condition(
    *, enabled: bool, keda_installed: bool, scaled_object: Mapping[str, Any] | None, generation: int | None
) -> Condition:
    """ScalerReady from KEDA's own Ready condition on the ScaledObject."""
    kind = ConditionType.SCALER_READY
    if not enabled:
        return condition(kind, True, "AutoscalingDisabled", "the pool runs a fixed replica count", generation)
    if not keda_installed:
        return condition(
            kind,
            False,
            "KedaNotInstalled",
            "the keda.sh/v1alpha1 ScaledObject API is not served by this cluster; install KEDA or set "
            "autoscaling.enabled=false",
            generation,
        )
    if scaled_object is None:
        return condition(kind, False, "NotCreated", "the ScaledObject has not been applied", generation)
    conditions = (scaled_object.get("status") or {}).get("conditions") or ()
    ready = _find(conditions, "Ready")
    if ready is None or ready.get("status") == "Unknown":
        return condition(kind, None, "Pending", "KEDA has not reported on the ScaledObject yet", generation)
    ok = ready.get("status") == "True"
    fallback = _find(conditions, "Fallback")
    if ok and fallback is not None and fallback.get("status") == "True":
        return condition(kind, False, "Fallback", str(fallback.get("message", "")), generation)
    return condition(
        kind,
        ok,
        str(ready.get("reason") or ("ScaledObjectReady" if ok else "NotReady")),
        str(ready.get("message", "")),
        generation,
    )


def ready_and_degraded(
    parts: list[Condition], degraded_reasons: list[str], generation: int | None
) -> tuple[Condition, Condition]:
    """Ready (all parts True and nothing degraded) and Degraded (the human-needed problems, if any)."""
    degraded = condition(
        ConditionType.DEGRADED,
        bool(degraded_reasons),
        "Problems" if degraded_reasons else "AsExpected",
        "; ".join(degraded_reasons) if degraded_reasons else "no problem needs attention",
        generation,
    )
    waiting = [part for part in parts if part.status != "True"]
    if not waiting and not degraded_reasons:
        return condition(ConditionType.READY, True, "Ready", "the pool is ready", generation), degraded
    names = ", ".join(f"{part.type.value}={part.status} ({part.reason})" for part in waiting)
    message = names or degraded.message
    return condition(ConditionType.READY, False, "NotReady", message, generation), degraded


def merge_conditions(previous: Iterable[Mapping[str, Any]], current: list[Condition], now: str) -> list[dict[str, Any]]:
    """Serialise ``current`` keeping each condition's ``lastTransitionTime`` unless its status changed."""
    merged: list[dict[str, Any]] = []
    old = list(previous)
    for item in current:
        before = _find(old, item.type.value)
        unchanged = before is not None and before.get("status") == item.status and before.get("lastTransitionTime")
        stamp = str(before["lastTransitionTime"]) if unchanged and before is not None else now
        merged.append(item.model_copy(update={"last_transition_time": stamp}).model_dump(by_alias=True, mode="json"))
    return merged
