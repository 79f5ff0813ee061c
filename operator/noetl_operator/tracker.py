"""What the operator remembers about each pool between reconciliations (in memory, per process).

The memory is what keeps an idle operator idle: children are re-applied only when what the pool renders
changed (:attr:`AppliedChildren.digest`) or a child's spec moved since the operator last wrote it (drift),
and the status is written only when it differs from the last one written. A restarted operator starts
with no memory, applies every child once (a no-op for unchanged children) and then settles again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AppliedChildren", "PoolState", "PoolTracker", "deployment_fingerprint", "manifests_digest"]


def manifests_digest(manifests: list[dict[str, Any]], *extra: object) -> str:
    """A stable digest of the manifests to apply (and whatever else decides what gets applied)."""
    return hashlib.sha256(json.dumps([manifests, *extra], sort_keys=True, default=str).encode()).hexdigest()


def deployment_fingerprint(deployment: Mapping[str, Any] | None) -> str | None:
    """What of a Deployment the pool's status depends on: its spec generation and its status."""
    if deployment is None:
        return None
    metadata = deployment.get("metadata") or {}
    return json.dumps([metadata.get("generation"), deployment.get("status")], sort_keys=True)


@dataclass
class AppliedChildren:
    """The children the operator last applied for a pool, as the API server returned them."""

    #: :func:`manifests_digest` of the last successful apply; ``None``: apply everything next time.
    digest: str | None = None
    #: ``Kind/name`` -> :func:`noetl_operator.kube.version_of` right after the operator's own apply.
    versions: dict[str, object] = field(default_factory=dict)
    #: :func:`deployment_fingerprint` of the Deployment the last status was computed from.
    deployment_seen: str | None = None
    #: The Deployment as the watch last delivered it (trimmed), so a resync need not read it again.
    deployment: dict[str, Any] | None = None
    #: Messages in the dead-letter stream at the last deep resync (``None``: not read, or not managed).
    dead_letters: int | None = None
    #: Resyncs left before the next deep one (every child read back, the consumer's streams re-checked).
    light_resyncs_left: int = 0

    def remember_deployment(self, deployment: Mapping[str, Any] | None) -> None:
        """Keep what status and drift checks need of a watched Deployment (not its managedFields etc.)."""
        if deployment is None:
            self.deployment = None
            return
        metadata = deployment.get("metadata") or {}
        kept = ("name", "namespace", "uid", "generation", "resourceVersion", "ownerReferences")
        self.deployment = {
            "metadata": {key: metadata[key] for key in kept if key in metadata},
            "status": dict(deployment.get("status") or {}),
        }


@dataclass
class PoolState:
    """One pool's memory, and the means to run its reconciliations one at a time."""

    applied: AppliedChildren = field(default_factory=AppliedChildren)
    #: The status as last written (or as found on the object before the first write).
    status: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Set when a child changed: the pool's resync loop refreshes it without waiting for the timer.
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class PoolTracker:
    """Pool UID -> :class:`PoolState`."""

    def __init__(self) -> None:
        self._pools: dict[str, PoolState] = {}

    def __len__(self) -> int:
        return len(self._pools)

    def state(self, uid: str) -> PoolState:
        """The pool's state, created on first use."""
        return self._pools.setdefault(uid, PoolState())

    def known(self, uid: str) -> PoolState | None:
        """The pool's state if the operator has seen the pool (child events of unknown owners are ignored)."""
        return self._pools.get(uid)

    def forget(self, uid: str) -> None:
        """Drop a deleted pool's memory."""
        self._pools.pop(uid, None)
