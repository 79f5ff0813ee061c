"""Throw-away certificate authorities and certificates for transport-security tests.

    pki = Pki.create(tmp_path)                      # a CA
    server = pki.issue("nats", server=True)         # 127.0.0.1 / localhost server certificate
    client = pki.issue("worker", client=True)       # client certificate for mutual TLS
    rogue = Pki.create(tmp_path / "rogue")          # a second CA nobody trusts

ECDSA P-256 throughout: key generation is instantaneous, and every TLS stack here (nats-server,
OpenSSL via Python's ``ssl``) accepts it. Private keys are written 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertPair", "Pki", "signing_keypair"]

_LOOPBACK_NAMES = ("localhost",)
_LOOPBACK_IPS = ("127.0.0.1", "::1")


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)
    return path


@dataclass(frozen=True)
class CertPair:
    """A leaf certificate and its key, as PEM files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """A certificate authority in ``folder`` (``ca.crt``) that issues leaf certificates."""

    folder: Path
    ca_cert: Path
    _ca_key: ec.EllipticCurvePrivateKey
    _ca: x509.Certificate

    @classmethod
    def create(cls, folder: Path, name: str = "noetl-test-ca") -> Pki:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        ca = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_CA_KEY_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        ca_path = _write(folder / "ca.crt", ca.public_bytes(serialization.Encoding.PEM))
        return cls(folder, ca_path, key, ca)

    def issue(
        self,
        stem: str,
        common_name: str | None = None,
        *,
        organizations: Sequence[str] = (),
        server: bool = False,
        client: bool = False,
        dns_names: Sequence[str] = _LOOPBACK_NAMES,
        ips: Sequence[str] = _LOOPBACK_IPS,
        expired: bool = False,
    ) -> CertPair:
        """A leaf written as ``<stem>.crt``/``<stem>.key``, valid for loopback unless other names are given.

        ``common_name`` (default ``stem``) and ``organizations`` are the subject: Kubernetes reads them as
        the user and groups of a client certificate. ``expired`` backdates it so validation must fail.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        if expired:
            start, end = now - datetime.timedelta(days=3), now - datetime.timedelta(days=2)
        else:
            start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
        subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name or stem))
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
        usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(self._ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # RFC 5280 requires it; Python 3.13's default context (VERIFY_X509_STRICT) rejects a chain without it.
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()), critical=False
            )
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        return CertPair(
            cert=_write(self.folder / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            key=_write(self.folder / f"{stem}.key", _key_pem(key), private=True),
        )

    def server_context(self, pair: CertPair, *, require_client_cert: bool = False) -> ssl.SSLContext:
        """An ``ssl`` server context presenting ``pair`` (and verifying clients against this CA if asked)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca_cert))
        context.load_cert_chain(str(pair.cert), str(pair.key))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
        return context


def signing_keypair(folder: Path, stem: str) -> CertPair:
    """A bare P-256 key pair (no certificate): ``<stem>.key`` (private, 0600) and ``<stem>.pub``.

    What the API server signs ServiceAccount tokens with and verifies them against. ``cert`` is the
    public half here.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return CertPair(
        cert=_write(folder / f"{stem}.pub", public),
        key=_write(folder / f"{stem}.key", _key_pem(key), private=True),
    )
