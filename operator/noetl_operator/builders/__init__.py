"""Pure builders: a validated pool (plus what is known about its Secrets) to the manifests of its children.

No I/O happens here; the reconciler and ``noetl-operator render`` both call :func:`build_children`, so what
``render`` prints is exactly what the operator applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from noetl_operator.builders.deployment import build_deployment
from noetl_operator.builders.inputs import ResolvedSecrets
from noetl_operator.builders.meta import Manifest
from noetl_operator.builders.pdb import build_pdb
from noetl_operator.builders.scaledobject import build_scaled_object
from noetl_operator.builders.service import build_metrics_service
from noetl_operator.builders.serviceaccount import build_service_account
from noetl_operator.spec import NoetlWorkerPool

__all__ = ["Children", "Manifest", "ResolvedSecrets", "build_children"]


@dataclass(frozen=True)
class Children:
    """Every child of a pool; ``None`` marks a child the spec turns off (and the reconciler removes)."""

    service_account: Manifest | None
    deployment: Manifest
    metrics_service: Manifest
    pdb: Manifest | None
    scaled_object: Manifest | None

    def present(self) -> list[Manifest]:
        """The children to apply, in dependency order (the account before the pods that use it)."""
        ordered = (self.service_account, self.deployment, self.metrics_service, self.pdb, self.scaled_object)
        return [child for child in ordered if child is not None]


def build_children(pool: NoetlWorkerPool, secrets: ResolvedSecrets | None = None) -> Children:
    """Build every child of ``pool``; raises :class:`~noetl_operator.spec.PoolSpecError` on a bad spec."""
    resolved = secrets or ResolvedSecrets()
    return Children(
        service_account=build_service_account(pool),
        deployment=build_deployment(pool, resolved),
        metrics_service=build_metrics_service(pool),
        pdb=build_pdb(pool),
        scaled_object=build_scaled_object(pool),
    )
