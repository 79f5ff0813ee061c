"""The headless metrics Service that Prometheus discovers the worker pods through."""

from __future__ import annotations

from noetl_operator.builders.meta import Manifest, child_metadata, metrics_service_name, selector_labels
from noetl_operator.spec import NoetlWorkerPool

__all__ = ["build_metrics_service"]


def build_metrics_service(pool: NoetlWorkerPool) -> Manifest:
    """A headless Service exposing each pod's ``metrics`` port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(pool, metrics_service_name(pool)),
        "spec": {
            "clusterIP": "None",
            "selector": selector_labels(pool),
            "ports": [{"name": "metrics", "port": pool.spec.metrics_port, "targetPort": "metrics", "protocol": "TCP"}],
        },
    }
