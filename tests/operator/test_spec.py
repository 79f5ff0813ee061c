"""The NoetlWorkerPool model accepts the documented pools and rejects bad ones with field-named messages."""

from __future__ import annotations

from typing import Any

import pytest
from noetl_operator.spec import ConsumerManagement, PoolSpecError, Runtime, parse_pool, parse_spec

from tests.operator.conftest import EXAMPLE_FILES, example_pool

pytestmark = pytest.mark.unit


def _pool(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "noetl.io/v1alpha1",
        "kind": "NoetlWorkerPool",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"image": {"tag": "1.0"}, **spec},
    }


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(PoolSpecError) as caught:
        parse_pool(raw)
    return caught.value.problems


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_every_example_pool_is_valid(name: str) -> None:
    pool = parse_pool(example_pool(name))
    assert pool.metadata.name


def test_defaults_follow_the_upstream_worker_contract() -> None:
    spec = parse_spec({"image": {"tag": "1.0"}})
    assert spec.runtime is Runtime.PYTHON
    assert (spec.nats.stream, spec.nats.subject, spec.consumer.durable_name) == (
        "NOETL_COMMANDS",
        "noetl.commands",
        "noetl_worker_pool",
    )
    assert spec.filter_subject == "noetl.commands"
    assert spec.consumer.management is ConsumerManagement.OBSERVE
    assert spec.consumer.prevent_delete is True
    assert spec.autoscaling.enabled is True
    assert spec.metrics_port == 9090


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"runtime": "go"}, "spec.runtime: Input should be 'python' or 'rust'"),
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "spec.autoscaling.minReplicas must be <="),
        (
            {"autoscaling": {"lagThreshold": -1}},
            "spec.autoscaling.lagThreshold: Input should be greater than or equal to 1",
        ),
        ({"autoscaling": {"lagThreshold": 0}}, "spec.autoscaling.lagThreshold"),
        ({"autoscaling": {"activationLagThreshold": -3}}, "spec.autoscaling.activationLagThreshold"),
        ({"replicas": 3}, "spec.replicas is only allowed when autoscaling.enabled is false"),
        ({"image": {"repository": "x"}}, "spec.image.tag or image.digest must be set"),
        ({"image": {"tag": "latest"}}, "spec.image.tag 'latest' is not reproducible"),
        ({"image": {"digest": "sha256:short"}}, "spec.image.digest: String should match pattern"),
        ({"consumer": {"management": "owned"}}, "spec.consumer.management: Input should be 'managed' or 'observe'"),
        ({"consumer": {"maxDeliver": 2, "backoffSeconds": [1, 2]}}, "spec.consumer.backoffSeconds must have fewer"),
        ({"consumer": {"maxDeliver": 0}}, "spec.consumer.maxDeliver must be -1"),
        ({"consumer": {"durableName": "a.b"}}, "spec.consumer.durableName: String should match pattern"),
        ({"nats": {"url": "nats://u:p@host:4222"}}, "spec.nats.url"),
        ({"nats": {"strem": "X"}}, "spec.nats.strem: Extra inputs are not permitted"),
        ({"runtime": "rust", "nats": {"tls": {"secretName": "ca"}}}, "spec.nats.tls is not supported by runtime rust"),
        ({"keychain": {"secretRefs": ["Not_A_Name"]}}, "spec.keychain.secretRefs[0]: String should match pattern"),
        (
            {"keychain": {"secretKeyRefs": [{"env": "A", "secretName": "s", "key": "k"}] * 2}},
            "spec.keychain.secretKeyRefs declares A more than once",
        ),
        ({"env": [{"value": "x"}]}, "spec.env[0].name must be a non-empty string"),
        ({"metricsPort": 80}, "spec.metricsPort: Input should be greater than or equal to 1024"),
        ({"sharedMemory": {"sizeLimit": "100m"}}, "spec.sharedMemory.sizeLimit: String should match pattern"),
    ],
)
def test_invalid_pools_are_rejected_naming_the_field(spec: dict[str, Any], expected: str) -> None:
    problems = _problems(_pool(**spec))
    assert any(problem.startswith(expected) or expected in problem for problem in problems), problems


def test_metadata_and_kind_are_checked_too() -> None:
    raw = _pool()
    raw["kind"] = "Deployment"
    raw["metadata"]["name"] = "x" * 41
    problems = _problems(raw)
    assert any(
        problem.startswith("apiVersion/kind: expected noetl.io/v1alpha1 NoetlWorkerPool") for problem in problems
    )
    assert any(problem.startswith("metadata.name: String should have at most 40 characters") for problem in problems)


def test_a_non_mapping_spec_is_a_clear_error() -> None:
    with pytest.raises(PoolSpecError, match=r"spec: expected a mapping, got list"):
        parse_spec([1, 2])
