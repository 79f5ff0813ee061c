"""The worker Deployment: image, env dialect, probes, metrics port, /dev/shm and secure defaults."""

from __future__ import annotations

from typing import Any

from noetl_operator.builders.env import NATS_TLS_MOUNT, build_env, build_env_from
from noetl_operator.builders.inputs import ResolvedSecrets
from noetl_operator.builders.meta import (
    Manifest,
    child_metadata,
    deployment_name,
    labels,
    selector_labels,
    service_account_name,
)
from noetl_operator.spec import API_GROUP, NoetlWorkerPool, ProbeTiming, Runtime

__all__ = [
    "CONTAINER_NAME",
    "DEFAULT_REPOSITORIES",
    "SECRETS_CHECKSUM_ANNOTATION",
    "build_deployment",
    "image_reference",
]

CONTAINER_NAME = "worker"
SECRETS_CHECKSUM_ANNOTATION = f"{API_GROUP}/secrets-checksum"
DEFAULT_REPOSITORIES = {
    Runtime.PYTHON: "ghcr.io/noetl/noetl-workerpool-worker",
    Runtime.RUST: "ghcr.io/noetl/worker",
}
# The upstream rust worker (00d5f70) serves only /metrics and /healthz; it has no readiness endpoint.
_READINESS_PATHS = {Runtime.PYTHON: "/readyz", Runtime.RUST: "/healthz"}
_NONROOT_ID = 65532

_POD_SECURITY_DEFAULTS: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": _NONROOT_ID,
    "runAsGroup": _NONROOT_ID,
    "fsGroup": _NONROOT_ID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
_CONTAINER_SECURITY_DEFAULTS: dict[str, Any] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` onto ``base`` (mappings merge, anything else replaces)."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def image_reference(pool: NoetlWorkerPool) -> str:
    """``repository[:tag][@digest]``; a digest pins the image even when a tag is also present."""
    image = pool.spec.image
    reference = image.repository or DEFAULT_REPOSITORIES[pool.spec.runtime]
    if image.tag is not None:
        reference += f":{image.tag}"
    if image.digest is not None:
        reference += f"@{image.digest}"
    return reference


def _probe(path: str, timing: ProbeTiming) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "metrics"},
        "initialDelaySeconds": timing.initial_delay_seconds,
        "periodSeconds": timing.period_seconds,
        "timeoutSeconds": timing.timeout_seconds,
        "failureThreshold": timing.failure_threshold,
    }


def _resources(pool: NoetlWorkerPool) -> dict[str, Any]:
    resources = pool.spec.resources
    out: dict[str, Any] = {}
    for section, values in (("requests", resources.requests), ("limits", resources.limits)):
        quantities = values.model_dump(exclude_none=True)
        if quantities:
            out[section] = quantities
    return out


def _volumes(pool: NoetlWorkerPool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    # A read-only root filesystem still needs a writable /tmp; /dev/shm is sized explicitly because the
    # container runtime's default is 64 MiB and tmpfs pages count against the memory limit.
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {}},
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": pool.spec.shared_memory.size_limit}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir, not a shared /tmp
        {"name": "shm", "mountPath": "/dev/shm"},  # noqa: S108 - the pod's own tmpfs
    ]
    tls = pool.spec.nats.tls
    if tls is not None:
        volumes.append({"name": "nats-tls", "secret": {"secretName": tls.secret_name, "defaultMode": 0o440}})
        mounts.append({"name": "nats-tls", "mountPath": NATS_TLS_MOUNT, "readOnly": True})
    return volumes, mounts


def build_deployment(pool: NoetlWorkerPool, secrets: ResolvedSecrets) -> Manifest:
    """The worker Deployment. With autoscaling on it has no ``spec.replicas``: KEDA's HPA owns it."""
    spec = pool.spec
    volumes, mounts = _volumes(pool)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image_reference(pool),
        "imagePullPolicy": spec.image.pull_policy.value,
        "ports": [{"name": "metrics", "containerPort": spec.metrics_port, "protocol": "TCP"}],
        "env": build_env(pool, secrets),
        "resources": _resources(pool),
        "livenessProbe": _probe("/healthz", spec.probes.liveness),
        "readinessProbe": _probe(_READINESS_PATHS[spec.runtime], spec.probes.readiness),
        "securityContext": _merge(_CONTAINER_SECURITY_DEFAULTS, spec.security_context),
        "volumeMounts": mounts,
    }
    env_from = build_env_from(pool)
    if env_from:
        container["envFrom"] = env_from

    annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(spec.metrics_port),
        "prometheus.io/path": "/metrics",
        **spec.pod_annotations,
    }
    if secrets.checksum is not None:
        annotations[SECRETS_CHECKSUM_ANNOTATION] = secrets.checksum

    account = service_account_name(pool)
    pod_spec: dict[str, Any] = {
        # Workers talk to NATS and the control plane, not to the Kubernetes API, unless given an account.
        "automountServiceAccountToken": account is not None,
        "terminationGracePeriodSeconds": spec.termination_grace_period_seconds,
        "securityContext": _merge(_POD_SECURITY_DEFAULTS, spec.pod_security_context),
        "containers": [container],
        "volumes": volumes,
    }
    if account is not None:
        pod_spec["serviceAccountName"] = account
    if spec.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in spec.image_pull_secrets]
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.affinity is not None:
        pod_spec["affinity"] = spec.affinity
    if spec.tolerations:
        pod_spec["tolerations"] = list(spec.tolerations)
    if spec.topology_spread_constraints:
        pod_spec["topologySpreadConstraints"] = list(spec.topology_spread_constraints)
    if spec.priority_class_name is not None:
        pod_spec["priorityClassName"] = spec.priority_class_name

    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(pool)},
        "revisionHistoryLimit": 5,
        # Never drop below the current capacity while rolling: surge instead.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": {**labels(pool), **spec.pod_labels}, "annotations": annotations},
            "spec": pod_spec,
        },
    }
    if not spec.autoscaling.enabled:
        deployment_spec["replicas"] = spec.effective_replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": child_metadata(pool, deployment_name(pool)),
        "spec": deployment_spec,
    }
