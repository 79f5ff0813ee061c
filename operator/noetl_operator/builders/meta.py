"""Names, labels and owner references shared by every child of a pool.

Children never carry Argo CD's tracking label or annotation: they are linked to the pool by owner
references, so Argo CD shows them in the app tree without pruning them or reporting them OutOfSync.
"""

from __future__ import annotations

from typing import Any

from noetl_operator.spec import API_GROUP, API_VERSION, KIND, NoetlWorkerPool

__all__ = [
    "FIELD_MANAGER",
    "LABEL_POOL",
    "MANAGED_BY",
    "Manifest",
    "child_metadata",
    "deployment_name",
    "labels",
    "metrics_service_name",
    "owner_reference",
    "selector_labels",
    "service_account_name",
]

Manifest = dict[str, Any]

FIELD_MANAGER = "noetl-operator"
MANAGED_BY = "noetl-operator"
LABEL_POOL = f"{API_GROUP}/pool"
LABEL_RUNTIME = f"{API_GROUP}/runtime"


def deployment_name(pool: NoetlWorkerPool) -> str:
    """The Deployment (and ScaledObject, PDB) name."""
    return f"noetl-worker-{pool.metadata.name}"


def metrics_service_name(pool: NoetlWorkerPool) -> str:
    """The headless metrics Service name."""
    return f"{deployment_name(pool)}-metrics"


def service_account_name(pool: NoetlWorkerPool) -> str | None:
    """The pods' ServiceAccount, or ``None`` for the namespace's ``default`` account."""
    account = pool.spec.service_account
    if account.name is not None:
        return account.name
    return deployment_name(pool) if account.create else None


def selector_labels(pool: NoetlWorkerPool) -> dict[str, str]:
    """The immutable Deployment selector: never add to it, or existing Deployments cannot be updated."""
    return {"app.kubernetes.io/name": "noetl-worker", LABEL_POOL: pool.metadata.name}


def labels(pool: NoetlWorkerPool) -> dict[str, str]:
    """Labels of every child and of the pods."""
    return {
        **selector_labels(pool),
        "app.kubernetes.io/component": "worker",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_RUNTIME: pool.spec.runtime.value,
    }


def owner_reference(pool: NoetlWorkerPool) -> dict[str, Any] | None:
    """The controller owner reference, or ``None`` when rendering offline (no UID yet)."""
    if pool.metadata.uid is None:
        return None
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "name": pool.metadata.name,
        "uid": pool.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child_metadata(pool: NoetlWorkerPool, name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """``metadata`` of a child object: name, namespace, labels, owner reference."""
    metadata: dict[str, Any] = {"name": name, "namespace": pool.metadata.namespace, "labels": labels(pool)}
    if annotations:
        metadata["annotations"] = annotations
    owner = owner_reference(pool)
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    return metadata
