"""The worker Deployment: who owns replicas, secure pod defaults, probes, /dev/shm and Secret-driven rollouts."""

from __future__ import annotations

import asyncio

import pytest
from noetl_operator.builders import build_children
from noetl_operator.builders.deployment import SECRETS_CHECKSUM_ANNOTATION, image_reference
from noetl_operator.secretrefs import resolve_secrets

from tests.operator.builders.support import FIXED_UID, DictSecrets, children_of, container, load
from tests.operator.conftest import example_secrets

pytestmark = pytest.mark.unit


def test_autoscaled_deployment_leaves_replicas_to_keda() -> None:
    assert "replicas" not in children_of("minimal.yaml").deployment["spec"]


def test_fixed_size_deployment_sets_replicas() -> None:
    assert children_of("rust-upstream.yaml").deployment["spec"]["replicas"] == 2


def test_children_are_owned_by_the_pool() -> None:
    for child in children_of("minimal.yaml").present():
        (owner,) = child["metadata"]["ownerReferences"]
        assert owner == {
            "apiVersion": "noetl.io/v1alpha1",
            "kind": "NoetlWorkerPool",
            "name": "minimal",
            "uid": FIXED_UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert "app.kubernetes.io/instance" not in child["metadata"]["labels"]  # Argo CD's tracking label


def test_pods_run_non_root_read_only_without_capabilities() -> None:
    children = children_of("minimal.yaml")
    pod = children.deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container(children)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_user_security_context_merges_over_the_defaults() -> None:
    children = children_of("minimal.yaml", securityContext={"capabilities": {"add": ["NET_BIND_SERVICE"]}})
    security = container(children)["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert security["readOnlyRootFilesystem"] is True


def test_probes_metrics_port_and_shared_memory() -> None:
    children = children_of("minimal.yaml", metricsPort=9191, sharedMemory={"sizeLimit": "128Mi"})
    worker = container(children)
    assert worker["ports"] == [{"name": "metrics", "containerPort": 9191, "protocol": "TCP"}]
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    volumes = {volume["name"]: volume for volume in children.deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "128Mi"}
    assert {"name": "shm", "mountPath": "/dev/shm"} in worker["volumeMounts"]


def test_rust_readiness_uses_healthz_because_the_upstream_worker_has_no_readyz() -> None:
    assert container(children_of("rust-upstream.yaml"))["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_image_reference_prefers_digest_and_defaults_the_repository_per_runtime() -> None:
    digest = "sha256:" + "a" * 64
    assert image_reference(load("minimal.yaml")) == "ghcr.io/noetl/noetl-workerpool-worker:0.1.0"
    assert image_reference(load("minimal.yaml", image={"tag": "1.2", "digest": digest})) == (
        f"ghcr.io/noetl/noetl-workerpool-worker:1.2@{digest}"
    )
    assert image_reference(load("rust-upstream.yaml", image={"digest": digest})) == f"ghcr.io/noetl/worker@{digest}"


def _checksum(secrets: DictSecrets) -> str:
    pool = load("autoscaled-keychain.yaml")
    resolved = asyncio.run(resolve_secrets(pool, secrets, connect_timeout=1.0)).resolved
    annotations = build_children(pool, resolved).deployment["spec"]["template"]["metadata"]["annotations"]
    return str(annotations[SECRETS_CHECKSUM_ANNOTATION])


def test_a_secret_change_changes_the_pod_template_checksum() -> None:
    secrets = DictSecrets(example_secrets("autoscaled-keychain.yaml"))
    before = _checksum(secrets)
    assert before == _checksum(secrets), "the checksum must be deterministic"
    secrets.secrets[("noetl", "noetl-worker-credentials")]["data"]["DUFFEL_API_KEY"] = "cm90YXRlZA=="
    assert _checksum(secrets) != before


def test_offline_render_without_secrets_has_no_checksum() -> None:
    annotations = build_children(load("minimal.yaml")).deployment["spec"]["template"]["metadata"]["annotations"]
    assert SECRETS_CHECKSUM_ANNOTATION not in annotations
    assert annotations["prometheus.io/port"] == "9090"


def test_scheduling_passthrough_reaches_the_pod() -> None:
    pod = children_of("autoscaled-keychain.yaml").deployment["spec"]["template"]["spec"]
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    rust_pod = children_of("rust-upstream.yaml").deployment["spec"]["template"]["spec"]
    assert rust_pod["tolerations"][0]["value"] == "amd64"
