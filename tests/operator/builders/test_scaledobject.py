"""The KEDA ScaledObject: a nats-jetstream trigger on the pool's stream, consumer, account and endpoint."""

from __future__ import annotations

import pytest

from tests.operator.builders.support import children_of

pytestmark = pytest.mark.unit


def test_trigger_targets_the_pools_consumer_with_string_metadata() -> None:
    scaled_object = children_of("autoscaled-keychain.yaml").scaled_object
    assert scaled_object is not None
    spec = scaled_object["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "noetl-worker-shared"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 40)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "nats-jetstream"
    assert trigger["metadata"] == {
        "natsServerMonitoringEndpoint": "nats-headless.nats.svc.cluster.local:8222",
        "account": "NOETL",
        "stream": "NOETL_COMMANDS",
        "consumer": "noetl_worker_pool_shared",
        "lagThreshold": "8",
        "activationLagThreshold": "1",
        "useHttps": "false",
    }
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 4}
    assert (
        spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    )


def test_paused_pools_carry_kedas_pause_annotation() -> None:
    scaled_object = children_of("minimal.yaml", autoscaling={"paused": True}).scaled_object
    assert scaled_object is not None
    assert scaled_object["metadata"]["annotations"] == {"autoscaling.keda.sh/paused": "true"}


def test_fixed_size_pools_have_no_scaled_object() -> None:
    assert children_of("rust-upstream.yaml").scaled_object is None
