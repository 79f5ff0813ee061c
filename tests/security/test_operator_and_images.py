"""Pods, images and the operator's handling of Secrets, from a security reviewer's chair.

* Every worker pod the operator builds (from every example pool) and the operator's own pod run as
  non-root, with a read-only root filesystem, no privilege escalation, every capability dropped and a
  seccomp profile; worker pods get no Kubernetes API token; both images end as a numeric non-root user.
* The operator reads only the Secrets a pool references, only in the pool's namespace: a pool in namespace
  A that names a Secret which exists only in namespace B gets "not found", and nothing of B is read or
  mounted. Reconciliation against the kmock API emulator, whose request log shows every read.
* No Secret value reaches the operator's log, the pool status or the applied children (which carry
  references, never values).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kmock import resource
from noetl_operator.builders import build_children
from noetl_operator.builders.inputs import ResolvedSecrets
from noetl_operator.kube import KubeClient, KubeConnection
from noetl_operator.reconcile import reconcile
from noetl_operator.spec import NoetlWorkerPool

from tests.operator.conftest import EXAMPLE_FILES, example_pool
from tests.operator.kmockapi import ApplyingEmulator, declare_cluster
from tests.support.nats import NatsServer

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TENANT, OTHER = "team-a", "team-b"
SECRET_VALUES = ("s3cr3t-api-token-9f2", "nats-pw-77c1", "keychain-value-0aa4")


# --------------------------------------------------------------------------- pod security


def assert_hardened_pod(pod_spec: dict[str, Any], where: str) -> None:
    pod_context = pod_spec.get("securityContext") or {}
    assert pod_context.get("runAsNonRoot") is True, where
    assert pod_context.get("runAsUser", 1) != 0, where
    assert (pod_context.get("seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost"), where
    assert pod_spec.get("hostNetwork") is not True, where
    assert pod_spec.get("hostPID") is not True, where
    for container in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]:
        context = container.get("securityContext") or {}
        name = f"{where}: container {container['name']}"
        assert context.get("allowPrivilegeEscalation") is False, name
        assert context.get("readOnlyRootFilesystem") is True, name
        assert context.get("privileged") is not True, name
        assert "ALL" in (context.get("capabilities") or {}).get("drop", []), name
        assert not (context.get("capabilities") or {}).get("add"), name
        assert context.get("runAsUser", 1) != 0, name


def worker_pod(document: dict[str, Any]) -> dict[str, Any]:
    pool = NoetlWorkerPool.model_validate(document)
    deployment = build_children(pool, ResolvedSecrets(envfrom_keys={}, checksum=None)).deployment
    return dict(deployment["spec"]["template"]["spec"])


@pytest.mark.parametrize("example", EXAMPLE_FILES)
def test_every_worker_pod_the_operator_builds_is_hardened(example: str) -> None:
    pod = worker_pod(example_pool(example))
    assert_hardened_pod(pod, example)
    # Workers never talk to the Kubernetes API: no token to steal from a compromised worker.
    assert pod.get("automountServiceAccountToken") is False, example


def test_a_read_only_root_still_gives_the_tools_a_writable_tmp() -> None:
    pod = worker_pod(example_pool("minimal.yaml"))
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    assert "/tmp" in mounts
    volume = next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
    assert "emptyDir" in volume


def test_the_operator_s_own_pod_is_hardened() -> None:
    (deployment,) = [doc for doc in yaml.safe_load_all((ROOT / "deploy/base/deployment.yaml").read_text()) if doc]
    assert_hardened_pod(deployment["spec"]["template"]["spec"], "deploy/base/deployment.yaml")


def effective_users(dockerfile: Path) -> dict[str, str | None]:
    """The user each stage ends with, following ``FROM <earlier stage>`` chains."""
    users: dict[str, str | None] = {}
    current = ""
    for raw in dockerfile.read_text().splitlines():
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].upper() == "FROM":
            parent = words[1]
            current = words[3] if len(words) > 3 and words[2].upper() == "AS" else f"stage{len(users)}"
            users[current] = users.get(parent)
        elif words[0].upper() == "USER":
            users[current] = words[1]
    return users


@pytest.mark.parametrize(("dockerfile", "stages"), [("Dockerfile.worker", ["worker", "standin"]),
                                                    ("Dockerfile.operator", ["operator"])])  # fmt: skip
def test_images_end_as_a_numeric_non_root_user(dockerfile: str, stages: list[str]) -> None:
    users = effective_users(ROOT / dockerfile)
    for stage in stages:
        user = users[stage]
        assert user is not None, f"{dockerfile}:{stage} runs as the base image's user (root)"
        uid = user.split(":")[0]
        assert uid.isdigit(), f"{dockerfile}:{stage}: USER {user} must be numeric (runAsNonRoot checks it)"
        assert int(uid) != 0, f"{dockerfile}:{stage} runs as root"


# --------------------------------------------------------------------------- Secrets across namespaces


def encoded(**data: str) -> dict[str, str]:
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


def secret(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": encoded(**data)}  # fmt: skip


def pool_referencing_every_secret_kind(nats_url: str, name: str) -> dict[str, Any]:
    """A pool in TENANT whose every Secret reference (keychain, NATS credentials, API token) names ``name``."""
    document = copy.deepcopy(example_pool("minimal.yaml"))
    document["metadata"] = {"name": "pool", "namespace": TENANT, "uid": "uid-sec", "generation": 1}
    spec = document["spec"]
    spec["nats"] = {**spec.get("nats", {}), "url": nats_url, "credentialsSecretRef": {"name": name}}
    spec["server"] = {**spec.get("server", {}), "tokenSecretRef": {"name": name, "key": "token"}}
    spec["keychain"] = {"secretRefs": [name], "secretKeyRefs": [{"env": "API_KEY", "secretName": name, "key": "api"}]}
    return document


@pytest.fixture
async def kube(kmock: ApplyingEmulator) -> AsyncIterator[KubeClient]:
    declare_cluster(kmock, keda=True)
    client = KubeClient(KubeConnection(server=str(kmock.url)))
    yield client
    await client.close()


@pytest.fixture
def operator_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


@pytest.mark.integration
@pytest.mark.kmock(cls=ApplyingEmulator)
async def test_a_pool_in_one_namespace_cannot_use_a_secret_of_another(
    kmock: ApplyingEmulator, kube: KubeClient, nats_server: NatsServer
) -> None:
    kmock.objects["v1/secrets", OTHER, "shared"] = secret(
        "shared", OTHER, user="u", password=SECRET_VALUES[1], token=SECRET_VALUES[0], api=SECRET_VALUES[2]
    )
    status = await reconcile(pool_referencing_every_secret_kind(nats_server.url, "shared"), kube)
    resolved = next(c for c in status["conditions"] if c["type"] == "SecretsResolved")
    assert resolved["status"] == "False"
    assert f"Secret {TENANT}/shared not found" in resolved["message"]
    secret_requests = [r for r in kmock if r.resource == resource("v1/secrets")]
    assert secret_requests, "the operator did not even look for the referenced Secret"
    assert {(r.method, r.namespace, r.name) for r in secret_requests} == {("GET", TENANT, "shared")}
    applied = json.dumps([dict(obj.raw) for key, obj in kmock.objects.items() if key[1] == TENANT])
    assert OTHER not in applied
    for value in SECRET_VALUES:
        assert value not in json.dumps(status)


@pytest.mark.integration
@pytest.mark.kmock(cls=ApplyingEmulator)
async def test_the_operator_reads_only_referenced_secrets_and_never_logs_or_copies_their_values(
    kmock: ApplyingEmulator, kube: KubeClient, nats_server: NatsServer, operator_log: pytest.LogCaptureFixture
) -> None:
    kmock.objects["v1/secrets", TENANT, "pool-secrets"] = secret(
        "pool-secrets", TENANT, user="u", password=SECRET_VALUES[1], token=SECRET_VALUES[0], api=SECRET_VALUES[2]
    )
    kmock.objects["v1/secrets", TENANT, "unrelated"] = secret("unrelated", TENANT, other="not-for-this-pool")
    status = await reconcile(pool_referencing_every_secret_kind(nats_server.url, "pool-secrets"), kube)
    assert next(c for c in status["conditions"] if c["type"] == "SecretsResolved")["status"] == "True"
    secret_requests = {(r.method, r.namespace, r.name) for r in kmock if r.resource == resource("v1/secrets")}
    assert secret_requests == {("GET", TENANT, "pool-secrets")}
    children = json.dumps(
        [dict(obj.raw) for key, obj in kmock.objects.items() if key[0] != resource("v1/secrets") and not obj.deleted]
    )
    everything = "\n".join([operator_log.text, json.dumps(status), children])
    for value in [*SECRET_VALUES, "not-for-this-pool"]:
        assert value not in everything
    assert base64.b64encode(SECRET_VALUES[0].encode()).decode() not in everything
    assert "pool-secrets" in children  # referenced by name (envFrom / secretKeyRef), never by value
