"""The KEDA ScaledObject: scale the Deployment on the durable consumer's lag via ``nats-jetstream``."""

from __future__ import annotations

from typing import Any

from noetl_operator.builders.meta import Manifest, child_metadata, deployment_name
from noetl_operator.spec import NoetlWorkerPool

__all__ = ["KEDA_GROUP", "KEDA_VERSION", "PAUSED_ANNOTATION", "build_scaled_object"]

KEDA_GROUP = "keda.sh"
KEDA_VERSION = "v1alpha1"
PAUSED_ANNOTATION = "autoscaling.keda.sh/paused"


def build_scaled_object(pool: NoetlWorkerPool) -> Manifest | None:
    """The ScaledObject, or ``None`` when autoscaling is disabled."""
    spec = pool.spec
    scaling = spec.autoscaling
    if not scaling.enabled:
        return None
    # KEDA reads trigger metadata as strings only.
    metadata = {
        "natsServerMonitoringEndpoint": spec.nats.monitoring_endpoint,
        "account": spec.nats.account,
        "stream": spec.nats.stream,
        "consumer": spec.consumer.durable_name,
        "lagThreshold": str(scaling.lag_threshold),
        "activationLagThreshold": str(scaling.activation_lag_threshold),
        "useHttps": "true" if spec.nats.use_https else "false",
    }
    so_spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment_name(pool)},
        "pollingInterval": scaling.polling_interval_seconds,
        "cooldownPeriod": scaling.cooldown_period_seconds,
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
        "triggers": [{"type": "nats-jetstream", "name": "consumer-lag", "metadata": metadata}],
    }
    if scaling.fallback is not None:
        so_spec["fallback"] = {
            "failureThreshold": scaling.fallback.failure_threshold,
            "replicas": scaling.fallback.replicas,
        }
    if scaling.behavior is not None:
        so_spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": scaling.behavior}}
    annotations = {PAUSED_ANNOTATION: "true"} if scaling.paused else None
    return {
        "apiVersion": f"{KEDA_GROUP}/{KEDA_VERSION}",
        "kind": "ScaledObject",
        "metadata": child_metadata(pool, deployment_name(pool), annotations),
        "spec": so_spec,
    }
