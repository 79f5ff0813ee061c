"""Secret resolution: only the pool's namespace, missing names and keys reported, NATS material decoded."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from noetl_operator.secretrefs import referenced_secrets, resolve_secrets
from noetl_operator.spec import NoetlWorkerPool, parse_pool

from tests.operator.builders.support import DictSecrets

pytestmark = pytest.mark.unit


def _pool(**spec: Any) -> NoetlWorkerPool:
    return parse_pool(
        {
            "apiVersion": "noetl.io/v1alpha1",
            "kind": "NoetlWorkerPool",
            "metadata": {"name": "p", "namespace": "mine"},
            "spec": {"image": {"tag": "1"}, **spec},
        }
    )


def _secret(name: str, namespace: str = "mine", **data: bytes) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {},
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


def _self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "noetl-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_every_reference_and_its_required_keys_are_collected() -> None:
    pool = _pool(
        server={"tokenSecretRef": {"name": "api", "key": "token"}},
        nats={"credentialsSecretRef": {"name": "nats"}, "tls": {"secretName": "tls", "certKey": "c", "keyKey": "k"}},
        keychain={"secretRefs": ["bag"], "secretKeyRefs": [{"env": "X", "secretName": "api", "key": "x"}]},
    )
    assert referenced_secrets(pool) == {
        "api": {"token", "x"},
        "nats": {"user", "password"},
        "tls": {"ca.crt", "c", "k"},
        "bag": set(),
    }


async def test_nats_credentials_and_mutual_tls_are_decoded_for_the_consumer_check() -> None:
    cert, key = _self_signed()
    pool = _pool(
        nats={
            "url": "tls://nats:4222",
            "credentialsSecretRef": {"name": "nats"},
            "tls": {"secretName": "tls", "certKey": "tls.crt", "keyKey": "tls.key"},
        }
    )
    secrets = DictSecrets(
        [
            _secret("nats", user=b"pool-user", password=b"s3cret"),
            _secret("tls", **{"ca.crt": cert, "tls.crt": cert, "tls.key": key}),
        ]
    )
    resolution = await resolve_secrets(pool, secrets, connect_timeout=2.0)
    assert resolution.missing == []
    access = resolution.nats_access
    assert access is not None
    assert (access.url, access.user, access.password) == ("tls://nats:4222", "pool-user", "s3cret")
    assert access.tls is not None
    assert access.tls.get_ca_certs()[0]["subject"] == ((("commonName", "noetl-test"),),)


async def test_unusable_material_is_reported_not_raised() -> None:
    pool = _pool(nats={"credentialsSecretRef": {"name": "nats"}})
    secrets = DictSecrets([])
    secrets.secrets[("mine", "nats")] = {"data": {"user": "!!!not base64", "password": "cA=="}}
    resolution = await resolve_secrets(pool, secrets, connect_timeout=2.0)
    assert resolution.nats_access is None
    assert resolution.missing == ["unusable NATS Secret material: key user is not valid base64"]


async def test_only_the_pools_namespace_is_searched() -> None:
    pool = _pool(keychain={"secretRefs": ["shared"]})
    secrets = DictSecrets([_secret("shared", "other-team", KEY=b"v")])
    resolution = await resolve_secrets(pool, secrets, connect_timeout=2.0)
    assert resolution.missing == ["Secret mine/shared not found"]
    assert resolution.resolved.envfrom_keys == {}


async def test_a_missing_keychain_secret_does_not_hide_the_nats_credentials() -> None:
    pool = _pool(nats={"credentialsSecretRef": {"name": "nats"}}, keychain={"secretRefs": ["later"]})
    secrets = DictSecrets([_secret("nats", user=b"u", password=b"p")])
    resolution = await resolve_secrets(pool, secrets, connect_timeout=2.0)
    assert resolution.missing == ["Secret mine/later not found"]
    assert resolution.nats_access is not None
    assert resolution.nats_access.user == "u"


async def test_a_missing_nats_key_is_listed_and_leaves_no_access() -> None:
    pool = _pool(nats={"credentialsSecretRef": {"name": "nats", "passwordKey": "pw"}})
    secrets = DictSecrets([_secret("nats", user=b"u")])
    resolution = await resolve_secrets(pool, secrets, connect_timeout=2.0)
    assert resolution.missing == ["key pw missing in Secret mine/nats"]
    assert resolution.nats_access is None
