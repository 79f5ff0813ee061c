"""Resolve the Secrets a pool references — only from the pool's own namespace.

A pool can never make the operator read or mount a Secret of another namespace: references are bare
names and are always looked up next to the pool. The result feeds the builders (keys of envFrom Secrets,
a checksum of all referenced data) and the consumer check (NATS credentials and TLS material).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from typing import Any, Protocol

from noetl_operator.builders.inputs import ResolvedSecrets
from noetl_operator.natspool import NatsAccess
from noetl_operator.spec import NoetlWorkerPool

__all__ = ["SecretReader", "SecretResolution", "referenced_secrets", "resolve_secrets"]


class SecretReader(Protocol):
    """What resolution needs from the Kubernetes client."""

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class SecretResolution:
    """Resolved inputs for the builders, what is missing, and the decoded NATS material."""

    resolved: ResolvedSecrets
    missing: list[str] = field(default_factory=list)
    nats_access: NatsAccess | None = None


def referenced_secrets(pool: NoetlWorkerPool) -> dict[str, set[str]]:
    """Secret name -> keys that must exist in it (an empty set: the Secret must merely exist)."""
    spec = pool.spec
    refs: dict[str, set[str]] = {}

    def need(name: str, *keys: str | None) -> None:
        refs.setdefault(name, set()).update(key for key in keys if key is not None)

    for name in spec.keychain.secret_refs:
        need(name)
    for ref in spec.keychain.secret_key_refs:
        need(ref.secret_name, ref.key)
    if spec.nats.credentials_secret_ref is not None:
        creds = spec.nats.credentials_secret_ref
        need(creds.name, creds.user_key, creds.password_key)
    if spec.nats.tls is not None:
        tls = spec.nats.tls
        need(tls.secret_name, tls.ca_key, tls.cert_key, tls.key_key)
    if spec.server.token_secret_ref is not None:
        need(spec.server.token_secret_ref.name, spec.server.token_secret_ref.key)
    return refs


def _decode(data: dict[str, str], key: str) -> bytes:
    try:
        return base64.b64decode(data[key], validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"key {key} is not valid base64") from error


async def resolve_secrets(pool: NoetlWorkerPool, reader: SecretReader, *, connect_timeout: float) -> SecretResolution:
    """Read every referenced Secret; report the missing ones by ``name`` or ``name/key``."""
    namespace = pool.metadata.namespace
    found: dict[str, dict[str, str]] = {}
    missing: list[str] = []
    for name, keys in sorted(referenced_secrets(pool).items()):
        secret = await reader.get_secret(namespace, name)
        if secret is None:
            missing.append(f"Secret {namespace}/{name} not found")
            continue
        data = dict(secret.get("data") or {})
        found[name] = data
        missing += [f"key {key} missing in Secret {namespace}/{name}" for key in sorted(keys - data.keys())]
    envfrom = {name: tuple(sorted(found[name])) for name in pool.spec.keychain.secret_refs if name in found}
    # Digest of the data (not the values on their own) so that any rotation changes it; values never leave here.
    digest = hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest() if found else None
    resolved = ResolvedSecrets(envfrom_keys=envfrom, checksum=f"sha256:{digest}" if digest else None)
    # The consumer can still be checked when only keychain Secrets are missing.
    access = None
    try:
        access = _nats_access(pool, found, connect_timeout)
    except KeyError:
        pass  # a NATS Secret or key is missing, and already listed in `missing`
    except (ValueError, ssl.SSLError) as error:
        missing.append(f"unusable NATS Secret material: {error}")
    return SecretResolution(resolved=resolved, missing=missing, nats_access=access)


def _nats_access(pool: NoetlWorkerPool, found: dict[str, dict[str, str]], connect_timeout: float) -> NatsAccess:
    nats_spec = pool.spec.nats
    user = password = None
    if nats_spec.credentials_secret_ref is not None:
        creds = nats_spec.credentials_secret_ref
        user = _decode(found[creds.name], creds.user_key).decode()
        password = _decode(found[creds.name], creds.password_key).decode()
    context = None
    digest = None
    if nats_spec.tls is not None:
        tls = nats_spec.tls
        data = found[tls.secret_name]
        material = [data.get(key) for key in (tls.ca_key, tls.cert_key, tls.key_key) if key is not None]
        digest = hashlib.sha256(json.dumps(material).encode()).hexdigest()
        context = ssl.create_default_context(cadata=_decode(data, tls.ca_key).decode())
        if tls.cert_key is not None and tls.key_key is not None:
            _load_client_cert(context, _decode(data, tls.cert_key), _decode(data, tls.key_key))
    return NatsAccess(
        url=nats_spec.url,
        user=user,
        password=password,
        tls=context,
        connect_timeout=connect_timeout,
        tls_digest=digest,
    )


def _load_client_cert(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl can load a client certificate only from files: write them privately and remove them at once.
    with tempfile.TemporaryDirectory(prefix="noetl-operator-tls-") as directory:
        cert_path = os.path.join(directory, "tls.crt")
        key_path = os.path.join(directory, "tls.key")
        for path, content in ((cert_path, cert), (key_path, key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with contextlib.closing(os.fdopen(descriptor, "wb")) as handle:
                handle.write(content)
        context.load_cert_chain(cert_path, key_path)
