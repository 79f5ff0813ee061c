"""One reconciliation of a pool: Secrets, children, consumer, then the status that describes them.

Called by the kopf handlers on create/update/resume and by each pool's resync loop (on its timer, and
promptly when the pool's Deployment changes: drift repair, Secret rotation, consumer lag, readiness).
Given the pool's :class:`~noetl_operator.tracker.AppliedChildren`, it writes children only when what the
pool renders changed or a child's spec moved since the operator applied it; otherwise it only reads.

It never raises for conditions a user can cause — an invalid spec, a missing
Secret, a cluster without KEDA, an unreachable NATS — it reports them in the status instead, so the
operator does not crash-loop and Argo CD shows why the pool is not healthy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from noetl_operator.builders import Children, build_children
from noetl_operator.builders.deployment import image_reference
from noetl_operator.builders.env import keychain_env_names
from noetl_operator.builders.meta import deployment_name, selector_labels
from noetl_operator.builders.scaledobject import KEDA_GROUP, KEDA_VERSION
from noetl_operator.consumers import ConsumerReport, reconcile_consumer
from noetl_operator.kube import KubeApiError, KubeClient, version_of
from noetl_operator.natspool import NatsConnections
from noetl_operator.secretrefs import resolve_secrets
from noetl_operator.spec import NoetlWorkerPool, PoolSpecError, parse_pool
from noetl_operator.status import (
    Condition,
    ConditionType,
    ConsumerLag,
    PoolStatus,
    condition,
    deployment_condition,
    merge_conditions,
    now_rfc3339,
    ready_and_degraded,
    scaler_condition,
)
from noetl_operator.tracker import AppliedChildren, deployment_fingerprint, manifests_digest

__all__ = ["reconcile"]

# Light resyncs between two deep ones. A light resync trusts the watched Deployment and the durable alone; a
# deep one reads every child back (drift of the Service, PDB, ServiceAccount) and re-checks the streams.
LIGHT_RESYNCS_PER_DEEP = 9

# Children whose status the pool's status does not use: between deep resyncs they are not read back.
_TRUSTED_BETWEEN_DEEP_RESYNCS = {"Service", "ServiceAccount", "PodDisruptionBudget"}

# Consumer reasons that will not fix themselves (the others clear once the stream or NATS is back).
_CONSUMER_PROBLEMS = {"UpdateRejected", "FilterMismatch", "DeadLetterStreamRejected"}


async def reconcile(
    body: Mapping[str, Any],
    kube: KubeClient,
    *,
    nats_connect_timeout: float = 5.0,
    on_drift: Callable[[list[str]], None] | None = None,
    memory: AppliedChildren | None = None,
    connections: NatsConnections | None = None,
) -> dict[str, Any]:
    """Converge the children of the pool in ``body``; return the new ``status`` (camelCase, for a patch).

    ``on_drift`` hears about repaired drift: children (``Kind/name``) that someone else changed although
    the pool's spec did not (the handlers log it and post a Kubernetes Event on the pool). ``memory`` is
    what was applied last time (updated here); without it every child is applied. ``connections`` shares
    NATS connections between checks.
    """
    metadata = body.get("metadata") or {}
    generation = metadata.get("generation")
    status_before = body.get("status") or {}
    previous = status_before.get("conditions") or []
    try:
        pool = parse_pool(dict(body))
        secrets = await resolve_secrets(pool, kube, connect_timeout=nats_connect_timeout)
        children = build_children(pool, secrets.resolved) if not secrets.missing else None
    except PoolSpecError as error:
        return _invalid(previous, generation, str(error))

    keda = await kube.serves(KEDA_GROUP, KEDA_VERSION, "scaledobjects")
    deployment: dict[str, Any] | None
    scaled_object: dict[str, Any] | None
    if children is not None:
        try:
            deployment, scaled_object, changed = await _apply(
                pool, children, kube, keda_installed=keda, memory=memory or AppliedChildren()
            )
        except KubeApiError as error:
            # The API server (or an admission webhook) refused a child: say which and why, in the status.
            return _refused(previous, generation, str(error))
        if changed and on_drift is not None and status_before.get("observedGeneration") == generation:
            on_drift(changed)
    else:
        # Pods referencing a missing Secret would sit in CreateContainerConfigError: keep what runs.
        deployment = await kube.get("apps/v1", "Deployment", pool.metadata.namespace, deployment_name(pool))
        scaled_object = None
        if keda and pool.spec.autoscaling.enabled:
            scaled_object = await kube.get(
                f"{KEDA_GROUP}/{KEDA_VERSION}", "ScaledObject", pool.metadata.namespace, deployment_name(pool)
            )

    if memory is not None:
        memory.deployment_seen = deployment_fingerprint(deployment)
    if secrets.nats_access is not None:
        light = memory is not None and memory.light_resyncs_left < LIGHT_RESYNCS_PER_DEEP
        consumer = await reconcile_consumer(pool, secrets.nats_access, connections, verify_streams=not light)
        if memory is not None and consumer.dead_letters is not None:
            memory.dead_letters = consumer.dead_letters
    else:
        consumer = ConsumerReport(
            False, "SecretsMissing", "the pool's NATS credentials or TLS Secret is missing (see SecretsResolved)"
        )

    secrets_ok = not secrets.missing
    parts: list[Condition] = [
        condition(
            ConditionType.SECRETS_RESOLVED,
            secrets_ok,
            "Resolved" if secrets_ok else "SecretNotFound",
            "every referenced Secret and key exists" if secrets_ok else "; ".join(secrets.missing),
            generation,
        ),
        deployment_condition(deployment, generation),
        condition(ConditionType.CONSUMER_READY, consumer.ready, consumer.reason, consumer.message, generation),
        scaler_condition(
            enabled=pool.spec.autoscaling.enabled,
            keda_installed=keda,
            scaled_object=scaled_object,
            generation=generation,
        ),
    ]
    problems = [f"{part.type.value}: {part.message}" for part in parts if _needs_a_human(part)]
    ready, degraded = ready_and_degraded(parts, problems, generation)
    status = _status_fields(pool, deployment, consumer, status_before.get("lag"))
    status_model = status.model_copy(update={"observed_generation": generation})
    out = status_model.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"conditions"})
    out["conditions"] = merge_conditions(previous, [ready, *parts, degraded], now_rfc3339())
    out["keychainEnvVars"] = keychain_env_names(pool, secrets.resolved)
    return out


def _needs_a_human(part: Condition) -> bool:
    if part.status == "True":
        return False
    if part.type is ConditionType.SECRETS_RESOLVED:
        return True
    if part.type is ConditionType.SCALER_READY:
        return part.reason in {"KedaNotInstalled", "Fallback"}
    if part.type is ConditionType.DEPLOYMENT_AVAILABLE:
        return part.reason == "ProgressDeadlineExceeded"
    if part.type is ConditionType.CONSUMER_READY:
        return part.reason in _CONSUMER_PROBLEMS
    return False


async def _apply(
    pool: NoetlWorkerPool, children: Children, kube: KubeClient, *, keda_installed: bool, memory: AppliedChildren
) -> tuple[dict[str, Any], dict[str, Any] | None, list[str]]:
    """Apply the children; return the Deployment, the ScaledObject and the children the apply changed.

    While the pool renders what was applied last (same digest), a child is only read, and re-applied only
    when its spec version differs from the one the operator's own apply left (someone else changed it).
    """
    namespace = pool.metadata.namespace
    uid = pool.metadata.uid or ""
    name = deployment_name(pool)
    digest = manifests_digest(children.present(), keda_installed)
    settled = memory.digest == digest
    deep = not settled or memory.light_resyncs_left <= 0
    memory.light_resyncs_left = LIGHT_RESYNCS_PER_DEEP if deep else memory.light_resyncs_left - 1
    # Forget the digest until this apply has succeeded: a failure half-way must not look like success.
    memory.digest = None
    changed: list[str] = []

    async def apply(manifest: dict[str, Any]) -> dict[str, Any]:
        key = f"{manifest['kind']}/{manifest['metadata']['name']}"
        if settled and key in memory.versions:
            watched = memory.deployment if manifest["kind"] == "Deployment" else None
            # A deep resync reads even the Deployment: it is also the backstop for a missed watch event.
            if watched is not None and not deep and version_of(watched) == memory.versions[key]:
                return watched
            if not deep and manifest["kind"] in _TRUSTED_BETWEEN_DEEP_RESYNCS:
                return manifest
            current = await kube.get(manifest["apiVersion"], manifest["kind"], namespace, manifest["metadata"]["name"])
            if current is not None and version_of(current) == memory.versions[key]:
                return current
            # The spec generation moved since the operator's own apply: someone else changed the child.
            drifted = current is not None and "generation" in (current.get("metadata") or {})
        else:
            drifted = False
        applied = await kube.apply_owned(manifest)
        memory.versions[key] = version_of(applied.obj)
        if applied.changed or drifted:
            changed.append(key)
        return applied.obj

    if children.service_account is not None:
        await apply(children.service_account)
    deployment = await apply(children.deployment)
    await apply(children.metrics_service)
    if children.pdb is not None:
        await apply(children.pdb)
    elif not settled:
        await kube.delete_owned("policy/v1", "PodDisruptionBudget", namespace, name, uid)
    if not settled and children.service_account is None and pool.spec.service_account.name is None:
        # A ServiceAccount created earlier (serviceAccount.create was true) is ours to remove.
        await kube.delete_owned("v1", "ServiceAccount", namespace, name, uid)
    scaled_object = None
    if keda_installed:
        if children.scaled_object is not None:
            scaled_object = await apply(children.scaled_object)
        elif not settled:
            await kube.delete_owned(f"{KEDA_GROUP}/{KEDA_VERSION}", "ScaledObject", namespace, name, uid)
    memory.digest = digest
    return deployment, scaled_object, changed


def _status_fields(
    pool: NoetlWorkerPool,
    deployment: Mapping[str, Any] | None,
    consumer: ConsumerReport,
    lag_before: Mapping[str, Any] | None,
) -> PoolStatus:
    state = (deployment or {}).get("status") or {}
    lag = None
    if consumer.num_pending is not None and consumer.num_ack_pending is not None:
        before = lag_before or {}
        same = (before.get("numPending"), before.get("numAckPending")) == (
            consumer.num_pending,
            consumer.num_ack_pending,
        )
        # An unchanged lag keeps its time stamp: a fresh stamp alone would make every resync a status write.
        lag = ConsumerLag(
            num_pending=consumer.num_pending,
            num_ack_pending=consumer.num_ack_pending,
            total=consumer.num_pending + consumer.num_ack_pending,
            checked_at=str(before["checkedAt"]) if same and before.get("checkedAt") else now_rfc3339(),
        )
    return PoolStatus(
        replicas=int(state.get("replicas", 0)) if deployment is not None else None,
        ready_replicas=int(state.get("readyReplicas", 0)) if deployment is not None else None,
        updated_replicas=int(state.get("updatedReplicas", 0)) if deployment is not None else None,
        selector=",".join(f"{key}={value}" for key, value in selector_labels(pool).items()),
        deployment_name=deployment_name(pool),
        scaled_object_name=deployment_name(pool) if pool.spec.autoscaling.enabled else None,
        image=image_reference(pool),
        lag=lag,
    )


def _invalid(previous: list[Mapping[str, Any]], generation: int | None, message: str) -> dict[str, Any]:
    return _failed(previous, generation, "InvalidSpec", message)


def _refused(previous: list[Mapping[str, Any]], generation: int | None, message: str) -> dict[str, Any]:
    return _failed(previous, generation, "ApplyRejected", message)


def _failed(previous: list[Mapping[str, Any]], generation: int | None, reason: str, message: str) -> dict[str, Any]:
    unknown = [
        condition(kind, None, reason, f"not evaluated: {message}", generation)
        for kind in (
            ConditionType.SECRETS_RESOLVED,
            ConditionType.DEPLOYMENT_AVAILABLE,
            ConditionType.CONSUMER_READY,
            ConditionType.SCALER_READY,
        )
    ]
    ready = condition(ConditionType.READY, False, reason, message, generation)
    degraded = condition(ConditionType.DEGRADED, True, reason, message, generation)
    conditions = merge_conditions(previous, [ready, *unknown, degraded], now_rfc3339())
    return {"observedGeneration": generation, "conditions": conditions}
