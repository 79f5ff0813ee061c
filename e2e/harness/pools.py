"""Test pools: a NoetlWorkerPool manifest for the cluster under test, and the waits the tests share."""

from __future__ import annotations

import uuid
from typing import Any

from noetl_operator.builders.meta import LABEL_POOL
from noetl_operator.spec import API_GROUP, API_VERSION, KIND, NoetlWorkerPool

from e2e.harness.cluster import Cluster, Manifest
from e2e.harness.settings import E2ESettings
from e2e.harness.waiting import wait_for

__all__ = ["condition", "pool_manifest", "ready_pool", "unique_name", "worker_selector"]


def unique_name(prefix: str) -> str:
    """A pool name no earlier run used, so leftovers of an aborted run never interfere."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def pool_manifest(
    name: str,
    settings: E2ESettings,
    *,
    autoscaling: dict[str, Any] | None = None,
    replicas: int | None = None,
    max_concurrent: int = 2,
) -> Manifest:
    """A pool of this project's worker image, on a durable of its own, that the operator manages.

    The durable is managed (created before the pods start, so KEDA never sees a missing consumer) and
    deleted with the pool, and its ack wait is short so a killed worker's command is redelivered fast.
    """
    spec: dict[str, Any] = {
        "image": {
            "repository": settings.worker_image_repository,
            "tag": settings.worker_image_tag,
            "pullPolicy": settings.worker_image_pull_policy,
        },
        "maxConcurrent": max_concurrent,
        "server": {"url": settings.server_url},
        "nats": {
            "url": settings.nats_url,
            "monitoringEndpoint": settings.nats_monitoring_endpoint,
            "account": settings.nats_account,
        },
        "consumer": {
            "durableName": f"e2e_{name.replace('-', '_')}",
            "management": "managed",
            "ackWaitSeconds": 20,
            "preventDelete": False,
        },
        "autoscaling": autoscaling if autoscaling is not None else {"enabled": False},
        "terminationGracePeriodSeconds": 30,
    }
    if replicas is not None:
        spec["replicas"] = replicas
    manifest: Manifest = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": settings.namespace},
        "spec": spec,
    }
    NoetlWorkerPool.model_validate(manifest)  # a bad test pool fails here, naming the field
    return manifest


def condition(pool: Manifest | None, kind: str) -> dict[str, Any] | None:
    """The pool's condition of type ``kind``, if reported."""
    if pool is None:
        return None
    for item in (pool.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            found: dict[str, Any] = item
            return found
    return None


def worker_selector(pool: str) -> dict[str, str]:
    """Labels that select a pool's worker pods."""
    return {LABEL_POOL: pool}


def ready_pool(cluster: Cluster, settings: E2ESettings, manifest: Manifest) -> Manifest:
    """Apply ``manifest`` and wait until the operator reports it Ready for its current generation."""
    cluster.apply_pool(manifest)
    name = manifest["metadata"]["name"]

    def ready() -> Manifest | None:
        pool = cluster.pool(name)
        found = condition(pool, "Ready")
        if pool is None or found is None or found.get("status") != "True":
            return None
        status = pool.get("status") or {}
        return pool if status.get("observedGeneration") == pool["metadata"].get("generation") else None

    def describe() -> str:
        pool = cluster.pool(name)
        return str((pool or {}).get("status", {}).get("conditions"))

    return wait_for(
        f"pool {name} to become Ready",
        ready,
        timeout=settings.timeout_seconds,
        poll=settings.poll_seconds,
        describe=describe,
    )
