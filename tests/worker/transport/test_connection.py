"""Connecting with each credential style the settings offer, against real nats-servers that require them."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from noetl_standin.natsserver import free_port
from noetl_worker.settings import load_settings
from noetl_worker.transport.connection import connect_nats, nats_target

from tests.support.nats import running_nats_server


async def _noop() -> None:
    return None


async def connects(env: dict[str, str]) -> bool:
    stopping = asyncio.Event()
    settings = load_settings(env)
    task = asyncio.ensure_future(connect_nats(settings, stopping=stopping, on_disconnect=_noop, on_reconnect=_noop))
    done, _ = await asyncio.wait({task}, timeout=3)
    if not done:
        stopping.set()
        assert await task is None  # gave up because we asked it to, not with an exception
        return False
    nc = task.result()
    assert nc is not None
    await nc.close()
    return True


@pytest.mark.integration
async def test_token_authentication() -> None:
    with running_nats_server(extra_args=["--auth", "tok-123456"]) as server:
        assert await connects({"NATS_URL": server.url, "NATS_TOKEN": "tok-123456"})
        assert not await connects({"NATS_URL": server.url, "NATS_TOKEN": "wrong"})


@pytest.mark.integration
async def test_user_and_password_from_the_url_or_the_environment() -> None:
    with running_nats_server(extra_args=["--user", "noetl", "--pass", "p@ss:word"]) as server:
        host = server.url.removeprefix("nats://")
        assert await connects({"NATS_URL": f"nats://noetl:p%40ss%3Aword@{host}"})
        assert await connects({"NATS_URL": server.url, "NATS_USER": "noetl", "NATS_PASSWORD": "p@ss:word"})
        assert not await connects({"NATS_URL": server.url})


@pytest.mark.integration
async def test_waits_for_a_server_that_is_not_up_yet() -> None:
    port = free_port()
    stopping = asyncio.Event()
    settings = load_settings({"NATS_URL": f"nats://127.0.0.1:{port}"})
    task = asyncio.ensure_future(connect_nats(settings, stopping=stopping, on_disconnect=_noop, on_reconnect=_noop))
    await asyncio.sleep(1.0)
    assert not task.done()
    with running_nats_server(port=port):
        nc = await asyncio.wait_for(task, 15)
        assert nc is not None
        assert nc.is_connected
        await nc.close()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "noetl-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.unit
def test_options_carry_every_credential_style(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    target = nats_target(
        load_settings(
            {
                "NATS_URL": "nats://a:b@n1:4222,nats://n2:4222",
                "NATS_TOKEN": "t",
                "NATS_CREDS": "/etc/nats/user.creds",
                "NATS_NKEY_SEED": "/etc/nats/seed.nk",
                "NATS_TLS_CA": str(cert),
                "NATS_TLS_CERT": str(cert),
                "NATS_TLS_KEY": str(key),
                "WORKER_ID": "pod-1",
            }
        )
    )
    options = target.options()
    assert options["servers"] == ["nats://n1:4222", "nats://n2:4222"]
    assert (options["user"], options["password"], options["token"]) == ("a", "b", "t")
    assert options["user_credentials"] == "/etc/nats/user.creds"
    assert options["nkeys_seed"] == "/etc/nats/seed.nk"
    assert isinstance(options["tls"], ssl.SSLContext)
    assert options["name"] == "noetl-worker:pod-1"
    assert target.where == "n1:4222, n2:4222"
