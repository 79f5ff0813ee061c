"""The worker environment in both dialects: the upstream names, keychain allow-list, credentials from Secrets."""

from __future__ import annotations

import pytest
from noetl_operator.builders import build_children
from noetl_operator.spec import PoolSpecError

from tests.operator.builders.support import children_of, container, env_of, load

pytestmark = pytest.mark.unit


def test_python_dialect_carries_the_worker_contract() -> None:
    env = env_of(children_of("autoscaled-keychain.yaml"))
    assert env["WORKER_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["WORKER_POOL_NAME"] == "shared"
    assert env["NOETL_SERVER_URL"] == "http://noetl.noetl.svc.cluster.local:8082"
    assert env["NATS_STREAM"] == "NOETL_COMMANDS"
    assert env["NATS_CONSUMER"] == "noetl_worker_pool_shared"
    assert env["NATS_FILTER_SUBJECT"] == "noetl.commands.shared.>"
    assert env["WORKER_MAX_CONCURRENT"] == "8"
    assert env["WORKER_METRICS_BIND"] == "0.0.0.0:9090"
    assert env["WORKER_LOG_LEVEL"] == "INFO"
    assert env["WORKER_DRAIN_DEADLINE"] == "50"
    assert (env["NATS_ACK_WAIT"], env["NATS_MAX_DELIVER"]) == ("120", "5")
    assert "RUST_LOG" not in env


def test_keychain_env_vars_list_envfrom_keys_and_mapped_keys() -> None:
    children = children_of("autoscaled-keychain.yaml")
    env = env_of(children)
    assert env["NOETL_KEYCHAIN_ENV_VARS"] == "DUFFEL_API_KEY,NOETL_FLIGHT_BEARER_TOKEN,NOETL_INTERNAL_API_TOKEN"
    assert env["NOETL_INTERNAL_API_TOKEN"] == {"secretKeyRef": {"name": "noetl-internal-api-token", "key": "token"}}
    assert container(children)["envFrom"] == [{"secretRef": {"name": "noetl-worker-credentials"}}]


def test_nats_credentials_and_tls_come_from_secrets_never_inline() -> None:
    children = children_of("own-nats-credentials.yaml")
    env = env_of(children)
    assert env["NATS_URL"] == "tls://nats.nats.svc.cluster.local:4222"
    assert env["NATS_USER"] == {"secretKeyRef": {"name": "nats-system-pool", "key": "user"}}
    assert env["NATS_PASSWORD"] == {"secretKeyRef": {"name": "nats-system-pool", "key": "password"}}
    assert env["NOETL_API_TOKEN"] == {"secretKeyRef": {"name": "noetl-internal-api-token", "key": "token"}}
    assert env["NATS_TLS_CA"] == "/etc/noetl/nats-tls/ca.crt"
    mounts = {mount["name"]: mount for mount in container(children)["volumeMounts"]}
    assert mounts["nats-tls"]["readOnly"] is True


def test_rust_dialect_sizes_the_ipc_cache_inside_dev_shm() -> None:
    env = env_of(children_of("rust-upstream.yaml"))
    assert env["RUST_LOG"] == "info"
    assert int(env["NOETL_IPC_CACHE_BUDGET_BYTES"]) == int(320 * 2**20 * 0.75)
    assert env["WORKER_POOL_NAME"] == "worker-rust-pool"
    assert "WORKER_LOG_LEVEL" not in env
    assert "WORKER_DRAIN_DEADLINE" not in env


def test_extra_env_is_appended_but_cannot_override_operator_names() -> None:
    env = env_of(children_of("minimal.yaml", env=[{"name": "NOETL_FEATURE_X", "value": "1"}]))
    assert env["NOETL_FEATURE_X"] == "1"
    pool = load("minimal.yaml", env=[{"name": "FINE", "value": "1"}, {"name": "NATS_URL", "value": "nats://x"}])
    with pytest.raises(PoolSpecError, match=r"spec\.env\[1\]\.name: NATS_URL is set by the operator"):
        build_children(pool)


def test_keychain_key_refs_cannot_shadow_operator_names() -> None:
    pool = load("minimal.yaml", keychain={"secretKeyRefs": [{"env": "NATS_PASSWORD", "secretName": "s", "key": "k"}]})
    with pytest.raises(PoolSpecError, match=r"spec\.keychain\.secretKeyRefs\[0\]\.env: NATS_PASSWORD"):
        build_children(pool)
