"""The optional ServiceAccount of the worker pods."""

from __future__ import annotations

from noetl_operator.builders.meta import Manifest, child_metadata, service_account_name
from noetl_operator.spec import NoetlWorkerPool

__all__ = ["build_service_account"]


def build_service_account(pool: NoetlWorkerPool) -> Manifest | None:
    """A ServiceAccount when ``serviceAccount.create`` is set, else ``None`` (an existing one is referenced)."""
    account = pool.spec.service_account
    name = service_account_name(pool)
    if not account.create or name is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": child_metadata(pool, name, dict(account.annotations)),
        # The pods opt in to a token explicitly (automountServiceAccountToken on the pod spec).
        "automountServiceAccountToken": False,
    }
