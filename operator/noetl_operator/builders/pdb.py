"""The PodDisruptionBudget: node drains evict workers a few at a time so in-flight commands can drain."""

from __future__ import annotations

from noetl_operator.builders.meta import Manifest, child_metadata, deployment_name, selector_labels
from noetl_operator.spec import NoetlWorkerPool

__all__ = ["build_pdb"]


def build_pdb(pool: NoetlWorkerPool) -> Manifest | None:
    """A ``maxUnavailable`` budget (never ``minAvailable``, which would block drains of a one-pod pool)."""
    budget = pool.spec.pod_disruption_budget
    if not budget.enabled:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": child_metadata(pool, deployment_name(pool)),
        "spec": {"maxUnavailable": budget.max_unavailable, "selector": {"matchLabels": selector_labels(pool)}},
    }
