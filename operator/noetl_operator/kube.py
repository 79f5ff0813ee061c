"""The one Kubernetes client layer of the operator (kopf itself only watches, and keeps its annotations).

Every API call goes through :meth:`KubeClient._call`, which refuses any (group, resource, verb) missing
from :data:`API_CALLS`; the RBAC test compares that registry with ``deploy/base/rbac.yaml``, so the
ClusterRole grants exactly what this module can do. Children are written with server-side apply under
one field manager (``noetl-operator``) with ``force=true``: the operator owns the fields it sets and
re-asserts them on drift, while fields owned by others (KEDA's HPA on ``spec.replicas``) stay theirs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp

from noetl_operator.builders.meta import FIELD_MANAGER, Manifest
from noetl_operator.kubeconfig import KubeConnection, load_connection
from noetl_operator.metrics import OperatorMetrics
from noetl_operator.spec import API_GROUP, API_VERSION, PLURAL

__all__ = [
    "API_CALLS",
    "ApiCall",
    "Applied",
    "KubeApiError",
    "KubeClient",
    "KubeConnection",
    "load_connection",
    "version_of",
]


@dataclass(frozen=True)
class ApiCall:
    """One (API group, resource, verb) the operator uses; ``""`` is the core group."""

    group: str
    resource: str
    verb: str


# Everything kube.py may do. Keep it minimal: the ClusterRole is generated-checked against it.
API_CALLS: frozenset[ApiCall] = frozenset(
    {
        *(
            ApiCall(group, resource, verb)
            for group, resource in (
                ("apps", "deployments"),
                ("", "services"),
                ("", "serviceaccounts"),
                ("policy", "poddisruptionbudgets"),
                ("keda.sh", "scaledobjects"),
            )
            # Server-side apply of an absent object creates it, which the API server authorises as `create`.
            for verb in ("get", "patch", "create", "delete")
        ),
        ApiCall("", "secrets", "get"),
        # The pool's status is written by the operator itself (only when it changed), not by kopf's patches.
        ApiCall(API_GROUP, f"{PLURAL}/status", "patch"),
        # kopf never creates its peering object; the operator does at start-up so HA works out of the box.
        ApiCall("kopf.dev", "clusterkopfpeerings", "create"),
        ApiCall("kopf.dev", "kopfpeerings", "create"),
    }
)

#: Concurrent requests of the operator's own client (kopf has its session; see handlers.KOPF_CONNECTIONS).
CONNECTIONS = 8

# apiVersion/kind -> (group, version, plural) for the kinds the operator writes.
_KINDS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("apps/v1", "Deployment"): ("apps", "v1", "deployments"),
    ("v1", "Service"): ("", "v1", "services"),
    ("v1", "ServiceAccount"): ("", "v1", "serviceaccounts"),
    ("policy/v1", "PodDisruptionBudget"): ("policy", "v1", "poddisruptionbudgets"),
    ("keda.sh/v1alpha1", "ScaledObject"): ("keda.sh", "v1alpha1", "scaledobjects"),
}


class KubeApiError(RuntimeError):
    """A non-success answer of the API server, with its status code and the server's own message."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        self.status = status
        super().__init__(f"{method} {path}: HTTP {status}: {message}")


@dataclass(frozen=True)
class Applied:
    """The object as the API server returned it after an apply, and whether the apply changed it."""

    obj: dict[str, Any]
    #: An existing object was modified: on a resync of an unchanged pool, someone else had changed it.
    changed: bool


def version_of(obj: dict[str, Any]) -> object:
    """What changes when someone changes the object's spec (and not when a controller writes its status)."""
    # generation moves only with the spec (status updates by controllers do not count); kinds without one
    # (Service, ServiceAccount) fall back to resourceVersion.
    metadata = obj.get("metadata") or {}
    return metadata.get("generation") or metadata.get("resourceVersion")


def _resource_path(group: str, version: str, plural: str, namespace: str, name: str | None = None) -> str:
    base = f"/api/{version}" if group == "" else f"/apis/{group}/{version}"
    path = f"{base}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name is not None else path


class KubeClient:
    """A small async client: apply, get, delete children; read Secrets; detect served APIs."""

    def __init__(
        self,
        connection: KubeConnection,
        *,
        timeout: float = 30.0,
        discovery_ttl: float = 0.0,
        metrics: OperatorMetrics | None = None,
    ) -> None:
        self._connection = connection
        self._metrics = metrics
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        # Discovery answers change only when a CRD is (un)installed: with 200 pools, asking once per pool
        # and resync would be most of the operator's idle requests.
        self._discovery_ttl = discovery_ttl
        self._discovered: dict[str, tuple[float, bool]] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the connection pool; requests after this fail instead of opening a new one."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        # Created lazily so the client can be built outside a running event loop.
        if self._closed:
            raise aiohttp.ClientConnectionError("the operator's API client is closed (the operator is stopping)")
        if self._session is None:
            self._session = self._connection.open_session(connections=CONNECTIONS, timeout=self._timeout)
        return self._session

    async def _call(
        self,
        call: ApiCall,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        _require(call)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self._http().request(
            method, self._connection.server + path, data=data, params=params, headers=headers
        ) as response:
            text = await response.text()
            if response.status == 404 and missing_ok:
                return None
            if response.status >= 400:
                self._count_error(response.status)
                raise KubeApiError(response.status, method, path, _server_message(text))
            return json.loads(text) if text else {}

    def _count_error(self, status: int) -> None:
        if self._metrics is not None:
            self._metrics.api_errors.labels(code=str(status)).inc()

    async def apply(self, manifest: Manifest) -> dict[str, Any]:
        """Server-side apply ``manifest`` (force: the operator is the authority for its fields)."""
        group, version, plural = _KINDS[(manifest["apiVersion"], manifest["kind"])]
        _require(ApiCall(group, plural, "create"))
        if self._metrics is not None:
            self._metrics.applies.labels(kind=manifest["kind"]).inc()
        metadata = manifest["metadata"]
        path = _resource_path(group, version, plural, metadata["namespace"], metadata["name"])
        result = await self._call(
            ApiCall(group, plural, "patch"),
            "PATCH",
            path,
            body=manifest,
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            # JSON is valid YAML, and the apply patch type is what makes this server-side apply.
            content_type="application/apply-patch+yaml",
        )
        assert result is not None
        return result

    async def apply_owned(self, manifest: Manifest) -> Applied:
        """Apply a child, but never take over an object of the same name that another owner controls.

        Force-applying would silently seize someone else's Deployment (say an existing ``noetl-worker-rust``
        when a pool is named ``rust``); refuse instead, naming the object.
        """
        metadata = manifest["metadata"]
        owners = metadata.get("ownerReferences") or []
        current = await self.get(manifest["apiVersion"], manifest["kind"], metadata["namespace"], metadata["name"])
        if current is not None and owners:
            ours = {owner["uid"] for owner in owners}
            controllers = [
                owner for owner in current.get("metadata", {}).get("ownerReferences") or [] if owner.get("controller")
            ]
            if not any(owner.get("uid") in ours for owner in controllers):
                holder = f"{controllers[0]['kind']}/{controllers[0]['name']}" if controllers else "nobody (unmanaged)"
                raise KubeApiError(
                    409,
                    "APPLY",
                    f"{manifest['kind']} {metadata['namespace']}/{metadata['name']}",
                    f"exists and is controlled by {holder}, not by this pool; rename the pool or remove the object",
                )
        result = await self.apply(manifest)
        return Applied(result, changed=current is not None and version_of(current) != version_of(result))

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One child object, or ``None`` if it does not exist."""
        group, version, plural = _KINDS[(api_version, kind)]
        path = _resource_path(group, version, plural, namespace, name)
        return await self._call(ApiCall(group, plural, "get"), "GET", path, missing_ok=True)

    async def delete_owned(self, api_version: str, kind: str, namespace: str, name: str, owner_uid: str) -> bool:
        """Delete a child only if this pool controls it; ``True`` if something was deleted."""
        current = await self.get(api_version, kind, namespace, name)
        if current is None:
            return False
        owners = current.get("metadata", {}).get("ownerReferences") or []
        if not any(owner.get("uid") == owner_uid and owner.get("controller") for owner in owners):
            return False
        group, version, plural = _KINDS[(api_version, kind)]
        path = _resource_path(group, version, plural, namespace, name)
        await self._call(ApiCall(group, plural, "delete"), "DELETE", path, missing_ok=True)
        return True

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A Secret of the pool's own namespace, or ``None`` if it does not exist."""
        path = _resource_path("", "v1", "secrets", namespace, name)
        return await self._call(ApiCall("", "secrets", "get"), "GET", path, missing_ok=True)

    async def ensure_peering(self, name: str, namespace: str | None) -> bool:
        """Create kopf's peering object (cluster-wide, or in ``namespace``); ``False`` if it already exists."""
        plural = "clusterkopfpeerings" if namespace is None else "kopfpeerings"
        kind = "ClusterKopfPeering" if namespace is None else "KopfPeering"
        base = "/apis/kopf.dev/v1"
        path = f"{base}/{plural}" if namespace is None else f"{base}/namespaces/{namespace}/{plural}"
        metadata: dict[str, str] = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
        try:
            await self._call(
                ApiCall("kopf.dev", plural, "create"),
                "POST",
                path,
                body={"apiVersion": "kopf.dev/v1", "kind": kind, "metadata": metadata},
            )
        except KubeApiError as error:
            if error.status == 409:
                return False
            raise
        return True

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge ``status`` into the pool's status subresource (``None`` values remove fields)."""
        path = _resource_path(API_GROUP, API_VERSION, PLURAL, namespace, name) + "/status"
        await self._call(
            ApiCall(API_GROUP, f"{PLURAL}/status", "patch"),
            "PATCH",
            path,
            body={"status": status},
            content_type="application/merge-patch+json",
        )

    async def serves(self, group: str, version: str, plural: str) -> bool:
        """Whether the API server serves ``plural`` in ``group/version`` (discovery; allowed to everyone)."""
        key = f"{group}/{version}/{plural}"
        cached = self._discovered.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._discovery_ttl:
            return cached[1]
        served = await self._discover(group, version, plural)
        self._discovered[key] = (time.monotonic(), served)
        return served

    async def _discover(self, group: str, version: str, plural: str) -> bool:
        path = f"/apis/{group}/{version}"
        async with self._http().get(self._connection.server + path) as response:
            if response.status == 404:
                return False
            if response.status >= 400:
                self._count_error(response.status)
                raise KubeApiError(response.status, "GET", path, _server_message(await response.text()))
            listing = await response.json(content_type=None)
        return any(item.get("name") == plural for item in listing.get("resources", []))


def _require(call: ApiCall) -> None:
    if call not in API_CALLS:
        raise PermissionError(f"{call} is not declared in kube.API_CALLS (and so not granted by the RBAC)")


def _server_message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return text[:500]
