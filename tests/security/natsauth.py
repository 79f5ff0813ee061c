"""NATS decentralised-auth material for tests: NKEY users, and an operator/account/user chain with a creds file.

A creds file holds a user JWT and the user's NKEY seed; the server trusts the operator, knows the account
(preloaded into a MEMORY resolver) and verifies that the account signed the user. The JWTs are the NATS v2
format: ``base64url(header).base64url(claims).base64url(ed25519 signature)``, header
``{"typ": "JWT", "alg": "ed25519-nkey"}``, ``jti`` = base32 SHA-256 of the claims without it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys  # type: ignore[import-untyped]

__all__ = ["NkeyUser", "OperatorChain", "new_keypair", "nkey_user", "operator_chain"]

_UNLIMITED_ACCOUNT = {
    "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": True, "conn": -1,
    "leaf": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
}  # fmt: skip


def new_keypair(prefix: int) -> nkeys.KeyPair:
    """A fresh NKEY pair of the given kind (``nkeys.PREFIX_BYTE_USER``, ``..._ACCOUNT``, ``..._OPERATOR``)."""
    return nkeys.from_seed(nkeys.encode_seed(os.urandom(32), prefix))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any], issuer: nkeys.KeyPair) -> str:
    claims = {**claims, "iat": int(time.time()), "iss": issuer.public_key.decode()}
    digest = hashlib.sha256(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()).digest()
    claims["jti"] = base64.b32encode(digest).rstrip(b"=").decode()
    signing_input = (
        f"{_b64(json.dumps({'typ': 'JWT', 'alg': 'ed25519-nkey'}).encode())}.{_b64(json.dumps(claims).encode())}"
    )
    return f"{signing_input}.{_b64(issuer.sign(signing_input.encode()))}"


@dataclass(frozen=True)
class NkeyUser:
    public_key: str
    seed_file: Path


def nkey_user(folder: Path, name: str) -> NkeyUser:
    """An NKEY user: its public key (for the server config) and a 0600 seed file (for the client)."""
    pair = new_keypair(nkeys.PREFIX_BYTE_USER)
    seed_file = folder / f"{name}.nk"
    seed_file.write_bytes(pair.seed + b"\n")
    seed_file.chmod(0o600)
    return NkeyUser(pair.public_key.decode(), seed_file)


@dataclass(frozen=True)
class OperatorChain:
    """Server configuration trusting one operator and account, and creds files for users."""

    server_config: str
    _account: nkeys.KeyPair

    def creds_file(self, folder: Path, name: str, *, account: nkeys.KeyPair | None = None) -> Path:
        """A creds file for a new user signed by ``account`` (default: the trusted account)."""
        user = new_keypair(nkeys.PREFIX_BYTE_USER)
        token = _jwt(
            {"sub": user.public_key.decode(), "name": name,
             "nats": {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2}},
            account or self._account,
        )  # fmt: skip
        path = folder / f"{name}.creds"
        path.write_text(
            f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{user.seed.decode()}\n------END USER NKEY SEED------\n"
        )
        path.chmod(0o600)
        return path


def operator_chain() -> OperatorChain:
    operator = new_keypair(nkeys.PREFIX_BYTE_OPERATOR)
    account = new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    operator_jwt = _jwt(
        {
            "sub": operator.public_key.decode(),
            "name": "noetl-test-operator",
            "nats": {"type": "operator", "version": 2},
        },
        operator,
    )
    account_jwt = _jwt(
        {"sub": account.public_key.decode(), "name": "noetl",
         "nats": {"limits": _UNLIMITED_ACCOUNT, "default_permissions": {"pub": {}, "sub": {}}, "type": "account",
                  "version": 2}},
        operator,
    )  # fmt: skip
    # JetStream needs a system account in operator mode (its internal subscriptions live there).
    system = new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    system_jwt = _jwt({"sub": system.public_key.decode(), "name": "SYS", "nats": {"type": "account", "version": 2}},
                      operator)  # fmt: skip
    config = (
        f"operator: {operator_jwt}\n"
        f"system_account: {system.public_key.decode()}\n"
        "resolver: MEMORY\n"
        f"resolver_preload: {{\n  {account.public_key.decode()}: {account_jwt}\n"
        f"  {system.public_key.decode()}: {system_jwt}\n}}\n"
    )
    return OperatorChain(config, account)
