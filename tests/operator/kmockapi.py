"""kmock's Kubernetes emulator, taught server-side apply's create-on-missing (its PATCH needs an object).

kmock merges PATCH bodies into stored objects, which is what an apply of the operator's own fields
amounts to; only the "apply creates the object if it is absent" rule of the real API server is missing,
so it is added here, the extension point the emulator documents for such behaviour.
"""

from __future__ import annotations

from typing import Any

import aiohttp.web
import kmock
from kmock._internal import rendering


class ApplyingEmulator(kmock.KubernetesEmulator):
    """KubernetesEmulator + ``application/apply-patch+yaml`` creating absent objects."""

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        content_type = request.headers.get("Content-Type", "")
        if (
            request.method == kmock.method.PATCH
            and content_type.startswith("application/apply-patch")
            and request.resource is not None
            and request.name is not None
        ):
            key = (request.resource, request.namespace, request.name)
            if key not in self.objects or self.objects[key].deleted:
                self.objects[key] = _with_generation(request.data)
        return await super()._handle(request)


def _with_generation(obj: Any) -> Any:
    metadata = dict(obj.get("metadata") or {})
    metadata.setdefault("generation", 1)
    return {**obj, "metadata": metadata}


BUILTIN_RESOURCES = {
    # kopf's namespace observer waits for this kind to be discoverable, even when cluster-wide.
    "v1/namespaces": {"kind": "Namespace", "namespaced": False},
    "v1/secrets": {"kind": "Secret", "namespaced": True},
    "v1/services": {"kind": "Service", "namespaced": True},
    "v1/serviceaccounts": {"kind": "ServiceAccount", "namespaced": True},
    "v1/events": {"kind": "Event", "namespaced": True},
    "apps/v1/deployments": {"kind": "Deployment", "namespaced": True},
    "policy/v1/poddisruptionbudgets": {"kind": "PodDisruptionBudget", "namespaced": True},
}
KEDA_RESOURCE = "keda.sh/v1alpha1/scaledobjects"
POOL_RESOURCE = "noetl.io/v1alpha1/noetlworkerpools"


def declare_cluster(emulator: kmock.KubernetesEmulator, *, keda: bool) -> None:
    """Serve the built-in kinds the operator writes, the pool CRD, and optionally KEDA."""
    for name, info in BUILTIN_RESOURCES.items():
        emulator.resources[name] = kmock.ResourceInfo(**info, verbs={"get", "list", "watch", "patch", "delete"})
    emulator.resources[POOL_RESOURCE] = kmock.ResourceInfo(
        kind="NoetlWorkerPool",
        singular="noetlworkerpool",
        namespaced=True,
        verbs={"get", "list", "watch", "patch", "create", "delete"},
        subresources={"status"},
    )
    if keda:
        emulator.resources[KEDA_RESOURCE] = kmock.ResourceInfo(
            kind="ScaledObject", namespaced=True, verbs={"get", "patch", "delete"}, subresources={"status"}
        )


def exists(emulator: kmock.KubernetesEmulator, resource: str, namespace: str, name: str) -> bool:
    """Whether the emulator holds a live object (``in emulator.objects`` does not parse string resources)."""
    key = (kmock.resource(resource), namespace, name)
    return key in emulator.objects and not emulator.objects[key].deleted
