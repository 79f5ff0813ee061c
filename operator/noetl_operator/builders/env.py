"""The worker's environment: the python and rust dialects of the same contract.

Both runtimes read the upstream worker's variable names (``WORKER_ID``, ``NATS_STREAM``, ...); the python
worker additionally understands control-plane bearer tokens and NATS TLS files, and the rust worker
takes ``RUST_LOG`` and an IPC cache budget that must fit in ``/dev/shm``.
"""

from __future__ import annotations

import re
from typing import Any

from noetl_operator.builders.inputs import ResolvedSecrets
from noetl_operator.builders.quantity import quantity_to_bytes
from noetl_operator.spec import NoetlWorkerPool, PoolSpecError, Runtime

__all__ = [
    "KEYCHAIN_ENV_VARS",
    "NATS_TLS_MOUNT",
    "build_env",
    "build_env_from",
    "keychain_env_names",
    "managed_env_names",
]

KEYCHAIN_ENV_VARS = "NOETL_KEYCHAIN_ENV_VARS"
NATS_TLS_MOUNT = "/etc/noetl/nats-tls"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The rust worker's shared-memory cache must stay below the tmpfs size or the process dies with SIGBUS.
_IPC_BUDGET_SHARE = 0.75
_DRAIN_MARGIN_SECONDS = 10
_PYTHON_LOG_LEVELS = {
    "trace": "DEBUG",
    "debug": "DEBUG",
    "info": "INFO",
    "warn": "WARNING",
    "warning": "WARNING",
    "error": "ERROR",
}

_COMMON = (
    "WORKER_ID",
    "WORKER_POOL_NAME",
    "NOETL_SERVER_URL",
    "NATS_URL",
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_STREAM",
    "NATS_CONSUMER",
    "NATS_SUBJECT",
    "NATS_FILTER_SUBJECT",
    "WORKER_HEARTBEAT_INTERVAL",
    "WORKER_MAX_CONCURRENT",
    "WORKER_METRICS_BIND",
    KEYCHAIN_ENV_VARS,
)
_PYTHON_ONLY = (
    "WORKER_LOG_LEVEL",
    "WORKER_DRAIN_DEADLINE",
    "NATS_ACK_WAIT",
    "NATS_MAX_DELIVER",
    "NATS_MAX_ACK_PENDING",
    "NATS_DEAD_LETTER_SUBJECT",
    "NOETL_API_TOKEN",
    "NATS_TLS_CA",
    "NATS_TLS_CERT",
    "NATS_TLS_KEY",
)
_RUST_ONLY = ("RUST_LOG", "NOETL_IPC_CACHE_BUDGET_BYTES")


def managed_env_names(runtime: Runtime) -> frozenset[str]:
    """Names the operator sets; ``spec.env`` may not override them."""
    return frozenset(_COMMON + (_PYTHON_ONLY if runtime is Runtime.PYTHON else _RUST_ONLY))


def _value(name: str, value: str | int) -> dict[str, Any]:
    return {"name": name, "value": str(value)}


def _secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def keychain_env_names(pool: NoetlWorkerPool, secrets: ResolvedSecrets) -> list[str]:
    """Env names lifted into the keychain: every valid key of the envFrom Secrets plus the mapped keys."""
    names = {ref.env for ref in pool.spec.keychain.secret_key_refs}
    for secret in pool.spec.keychain.secret_refs:
        names.update(key for key in secrets.envfrom_keys.get(secret, ()) if _ENV_NAME.match(key))
    return sorted(names - managed_env_names(pool.spec.runtime))


def build_env_from(pool: NoetlWorkerPool) -> list[dict[str, Any]]:
    """``envFrom`` entries: one per keychain Secret mounted whole."""
    return [{"secretRef": {"name": name}} for name in pool.spec.keychain.secret_refs]


def build_env(pool: NoetlWorkerPool, secrets: ResolvedSecrets) -> list[dict[str, Any]]:
    """The container's ``env`` in the pool's runtime dialect, then the user's extra entries."""
    spec = pool.spec
    env: list[dict[str, Any]] = [
        {"name": "WORKER_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        _value("WORKER_POOL_NAME", pool.pool_name),
        _value("NOETL_SERVER_URL", spec.server.url),
        _value("NATS_URL", spec.nats.url),
    ]
    credentials = spec.nats.credentials_secret_ref
    if credentials is not None:
        env.append(_secret("NATS_USER", credentials.name, credentials.user_key))
        env.append(_secret("NATS_PASSWORD", credentials.name, credentials.password_key))
    env += [
        _value("NATS_STREAM", spec.nats.stream),
        _value("NATS_CONSUMER", spec.consumer.durable_name),
        _value("NATS_SUBJECT", spec.nats.subject),
        _value("NATS_FILTER_SUBJECT", spec.filter_subject),
        _value("WORKER_HEARTBEAT_INTERVAL", spec.heartbeat_interval_seconds),
        _value("WORKER_MAX_CONCURRENT", spec.max_concurrent),
        _value("WORKER_METRICS_BIND", f"0.0.0.0:{spec.metrics_port}"),
    ]
    env += _python_env(pool) if spec.runtime is Runtime.PYTHON else _rust_env(pool)
    env += [
        {"name": ref.env, "valueFrom": {"secretKeyRef": {"name": ref.secret_name, "key": ref.key}}}
        for ref in spec.keychain.secret_key_refs
    ]
    keychain = keychain_env_names(pool, secrets)
    if keychain:
        env.append(_value(KEYCHAIN_ENV_VARS, ",".join(keychain)))
    return env + _user_env(pool)


def _python_env(pool: NoetlWorkerPool) -> list[dict[str, Any]]:
    spec = pool.spec
    env = [
        _value("WORKER_LOG_LEVEL", _PYTHON_LOG_LEVELS[spec.log_level]),
        # Finish or nak in-flight commands well before the kubelet's SIGKILL at the end of the grace period.
        _value("WORKER_DRAIN_DEADLINE", max(1, spec.termination_grace_period_seconds - _DRAIN_MARGIN_SECONDS)),
        # Used only if a worker has to create the durable (observe mode): it then matches the spec.
        _value("NATS_ACK_WAIT", spec.consumer.ack_wait_seconds),
        _value("NATS_MAX_DELIVER", spec.consumer.max_deliver),
        _value("NATS_MAX_ACK_PENDING", spec.consumer.max_ack_pending),
        # The managed dead-letter stream (consumers.dead_letter_subjects) captures this subject.
        _value("NATS_DEAD_LETTER_SUBJECT", f"noetl.deadletter.{spec.nats.stream}.{spec.consumer.durable_name}"),
    ]
    token = spec.server.token_secret_ref
    if token is not None:
        env.append(_secret("NOETL_API_TOKEN", token.name, token.key))
    tls = spec.nats.tls
    if tls is not None:
        env.append(_value("NATS_TLS_CA", f"{NATS_TLS_MOUNT}/{tls.ca_key}"))
        if tls.cert_key is not None and tls.key_key is not None:
            env.append(_value("NATS_TLS_CERT", f"{NATS_TLS_MOUNT}/{tls.cert_key}"))
            env.append(_value("NATS_TLS_KEY", f"{NATS_TLS_MOUNT}/{tls.key_key}"))
    return env


def _rust_env(pool: NoetlWorkerPool) -> list[dict[str, Any]]:
    shm_bytes = quantity_to_bytes(pool.spec.shared_memory.size_limit)
    return [
        _value("RUST_LOG", pool.spec.log_level),
        _value("NOETL_IPC_CACHE_BUDGET_BYTES", int(shm_bytes * _IPC_BUDGET_SHARE)),
    ]


def _user_env(pool: NoetlWorkerPool) -> list[dict[str, Any]]:
    managed = managed_env_names(pool.spec.runtime)
    problems = [
        f"spec.keychain.secretKeyRefs[{index}].env: {ref.env} is set by the operator; pick another name"
        for index, ref in enumerate(pool.spec.keychain.secret_key_refs)
        if ref.env in managed
    ]
    taken = managed | {ref.env for ref in pool.spec.keychain.secret_key_refs}
    problems += [
        f"spec.env[{index}].name: {entry['name']} is set by the operator; use the matching spec field"
        for index, entry in enumerate(pool.spec.env)
        if entry["name"] in taken
    ]
    if problems:
        raise PoolSpecError(problems)
    return [dict(entry) for entry in pool.spec.env]
