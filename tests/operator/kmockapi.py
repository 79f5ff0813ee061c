"""kmock's Kubernetes emulator, taught two rules of the real API server that kopf and the operator rely on.

kmock merges PATCH bodies into stored objects, which is what an apply of the operator's own fields
amounts to. Added here, at the extension point the emulator documents for such behaviour:

- server-side apply creates the object if it is absent (kmock's PATCH needs an object);
- every write that changes an object gives it a new ``metadata.resourceVersion`` (one counter for all
  objects, like etcd's revision), a write that changes nothing keeps it, and a JSON patch whose ``test``
  fails is answered 422. kmock keeps whatever version the
  client sent, forever; kopf then takes a stale watch event (from before its own annotation PATCH) for the
  consistent state, since its version equals the version its PATCH returned, handles the pool again and
  writes its ``last-handled-configuration`` annotation a second time — which is how the idle-operator test
  saw writes from an operator that had nothing to write, whenever a loaded machine delayed the watch.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import aiohttp.web
import jsonpatch
import kmock
from kmock._internal import dicts, rendering


class ApplyingEmulator(kmock.KubernetesEmulator):
    """KubernetesEmulator + apply creating absent objects + resourceVersions that move with every change."""

    _revisions: ClassVar[itertools.count[int]] = itertools.count(1000)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        content_type = request.headers.get("Content-Type", "")
        if request.resource is not None and request.action in (kmock.action.CREATE, kmock.action.UPDATE):
            key = (request.resource, request.namespace, request.name)
            absent = key not in self.objects or self.objects[key].deleted
            # The parsed body is amended in place: kmock matches its reactions against this very request.
            if request.action == kmock.action.CREATE and isinstance(request.data, dict):
                request.data.setdefault("metadata", {})["resourceVersion"] = self._next()
            elif request.name is not None and absent and content_type.startswith("application/apply-patch"):
                created = _with_generation(request.data)
                created["metadata"]["resourceVersion"] = self._next()
                self.objects[key] = created
            elif request.name is not None and not absent:
                current = self.objects[key].raw
                try:
                    changed = dict(dicts.patch_dict(current, request.data)) != current
                except jsonpatch.JsonPatchTestFailed as error:
                    # kopf's JSON patches test the version they were computed from; the API server answers a
                    # failed test with 422, upon which kopf re-reads the object (kmock would answer 500).
                    return aiohttp.web.json_response(
                        {"kind": "Status", "code": 422, "reason": "Invalid", "message": str(error)}, status=422
                    )
                except Exception:  # a patch kmock cannot apply: kmock itself refuses it below
                    changed = False
                if changed and isinstance(request.data, list):  # JSON patch: its `test`s see the client's version
                    request.data.append({"op": "add", "path": "/metadata/resourceVersion", "value": self._next()})
                elif changed and isinstance(request.data, dict):
                    request.data.setdefault("metadata", {})["resourceVersion"] = self._next()
        return await super()._handle(request)

    def _next(self) -> str:
        return str(next(self._revisions))


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
