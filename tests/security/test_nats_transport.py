"""Worker <-> nats-server transport security: TLS, mutual TLS, user/password, token, NKEY, creds file.

Each mode runs against a real nats-server configured for it, both ways: the right material gives a worker
that connects and runs a command; wrong material gives a clear error in the log, retries, a live process
that reports not-ready and exits 0 on SIGTERM — never a crash, never a quiet plaintext connection.

The stand-in runs HTTP-only here (it has no NATS auth settings); the test publishes the pointer itself,
with a client that holds the right material.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nkeys  # type: ignore[import-untyped]
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus

from tests.security.natsauth import new_keypair, nkey_user, operator_chain
from tests.support.nats import running_nats_server
from tests.support.standin import StandinProcess, running_standin
from tests.support.tls import Pki
from tests.worker.workerproc import WorkerProcess, start_worker

pytestmark = pytest.mark.integration

PASSWORD = "pw-7Hq2-never-logged"
TOKEN = "tok-Zx81-never-logged"
MODES = ("tls", "mutual_tls", "user_password", "token", "nkey", "creds")


# nats-server answers a refused credential with `-ERR 'Authorization Violation'` and closes at once; when the
# client's PING is still unread on the server's side, the close is a TCP reset, which discards the -ERR the
# worker had not read yet. So a refusal is logged with one of the two reasons (under load, mostly the reset);
# both name the server and neither is a crash.
REFUSED = r"cannot connect to 127\.0\.0\.1:\d+: .*(Authorization Violation|Connection reset by peer)"


@dataclass
class Mode:
    """How to start nats-server for one security mode, and what good and bad clients hold."""

    server_args: list[str]
    worker_env: dict[str, str]
    client_options: dict[str, Any]
    bad_worker_env: dict[str, str]
    bad_error: str
    """What the worker's log must say when it holds the bad material (a regular expression)."""
    secrets: list[str] = field(default_factory=list)


def client_tls(pki: Pki, *, client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if client_cert:
        pair = pki.issue("test-client", client=True)
        context.load_cert_chain(str(pair.cert), str(pair.key))
    return context


def build_mode(name: str, folder: Path) -> Mode:
    pki, rogue = Pki.create(folder / "pki"), Pki.create(folder / "rogue", name="rogue-ca")
    server = pki.issue("nats-server", server=True)
    tls_args = ["--tls", "--tlscert", str(server.cert), "--tlskey", str(server.key)]
    if name == "tls":
        return Mode(
            tls_args, {"NATS_TLS_CA": str(pki.ca_cert)}, {"tls": client_tls(pki, client_cert=False)},
            {"NATS_TLS_CA": str(rogue.ca_cert)}, "CERTIFICATE_VERIFY_FAILED",
        )  # fmt: skip
    if name == "mutual_tls":
        good, bad = pki.issue("worker", client=True), rogue.issue("intruder", client=True)
        return Mode(
            [*tls_args, "--tlsverify", "--tlscacert", str(pki.ca_cert)],
            {"NATS_TLS_CA": str(pki.ca_cert), "NATS_TLS_CERT": str(good.cert), "NATS_TLS_KEY": str(good.key)},
            {"tls": client_tls(pki, client_cert=True)},
            {"NATS_TLS_CA": str(pki.ca_cert), "NATS_TLS_CERT": str(bad.cert), "NATS_TLS_KEY": str(bad.key)},
            "unknown ca",
        )
    if name == "user_password":
        return Mode(
            ["--user", "noetl", "--pass", PASSWORD], {"NATS_USER": "noetl", "NATS_PASSWORD": PASSWORD},
            {"user": "noetl", "password": PASSWORD}, {"NATS_USER": "noetl", "NATS_PASSWORD": "not-" + PASSWORD},
            REFUSED, [PASSWORD],
        )  # fmt: skip
    if name == "token":
        return Mode(
            ["--auth", TOKEN], {"NATS_TOKEN": TOKEN}, {"token": TOKEN}, {"NATS_TOKEN": "not-" + TOKEN},
            REFUSED, [TOKEN],
        )  # fmt: skip
    if name == "nkey":
        user, stranger = nkey_user(folder, "worker"), nkey_user(folder, "stranger")
        config = folder / "nkey.conf"
        config.write_text(f'authorization {{ users = [ {{ nkey: "{user.public_key}" }} ] }}\n')
        return Mode(
            ["-c", str(config)], {"NATS_NKEY_SEED": str(user.seed_file)}, {"nkeys_seed": str(user.seed_file)},
            {"NATS_NKEY_SEED": str(stranger.seed_file)}, REFUSED,
            [user.seed_file.read_text().strip()],
        )  # fmt: skip
    chain = operator_chain()
    config = folder / "operator.conf"
    config.write_text(chain.server_config)
    good_creds = chain.creds_file(folder, "worker")
    # Signed by an account the server does not trust.
    bad_creds = chain.creds_file(folder, "intruder", account=new_keypair(nkeys.PREFIX_BYTE_ACCOUNT))
    seed = good_creds.read_text().split("-----BEGIN USER NKEY SEED-----\n")[1].split("\n")[0]
    return Mode(
        ["-c", str(config)], {"NATS_CREDS": str(good_creds)}, {"user_credentials": str(good_creds)},
        {"NATS_CREDS": str(bad_creds)}, REFUSED, [seed],
    )  # fmt: skip


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinProcess]:
    """HTTP only: the tests publish pointers themselves."""
    with running_standin() as process:
        yield process


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(nats_url: str, server_url: str, **env: str) -> WorkerProcess:
        worker = start_worker(tmp_path, nats_url, server_url, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()


async def run_one_command(admin: StandinAdmin, nats_url: str, options: dict[str, Any], subject: str) -> JobStatus:
    """Submit a one-command job and publish its pointer as the control plane would."""
    job = await admin.submit_job([{"name": "secure", "kind": "noop", "tool_config": {"result": {"ok": True}}}])
    (command,) = await admin.commands(job.execution_id)
    pointer = {
        "execution_id": command["execution_id"], "event_id": command["event_id"],
        "command_id": command["command_id"], "step": command["step_name"], "server_url": admin.url,
    }  # fmt: skip
    nc = await nats.connect(nats_url, **options)
    try:
        await nc.jetstream().publish(subject, json.dumps(pointer).encode())
    finally:
        await nc.close()
    return (await admin.wait_job(job.execution_id, timeout=20)).status


def assert_no_secret_in(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, "a credential reached the worker's log"


@pytest.mark.parametrize("mode_name", MODES)
async def test_the_right_material_connects_and_runs_a_command(
    mode_name: str,
    tmp_path: Path,
    standin: StandinProcess,
    names: dict[str, str],
    workers: Callable[..., WorkerProcess],
) -> None:
    mode = build_mode(mode_name, tmp_path)
    with running_nats_server(extra_args=mode.server_args) as server:
        scheme = "tls" if "TLS" in " ".join(mode.worker_env) else "nats"
        url = f"{scheme}://127.0.0.1:{server.port}"
        worker = workers(url, standin.url, **names, **mode.worker_env)
        await asyncio.to_thread(worker.wait_ready, 30)
        async with StandinAdmin(standin.url) as admin:
            assert await run_one_command(admin, url, mode.client_options, names["NATS_SUBJECT"]) is JobStatus.COMPLETED
        assert await asyncio.to_thread(worker.terminate) == 0
    assert_no_secret_in(worker.log(), mode.secrets)


def wait_for_log(worker: WorkerProcess, pattern: str, *, count: int = 1, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    """Wait until the worker's log matches the regular expression ``pattern`` ``count`` times."""
    while len(re.findall(pattern, worker.log())) < count:
        assert worker.process.poll() is None, f"the worker exited ({worker.process.returncode}):\n{worker.log()}"
        tail = worker.log()[-3000:]
        assert time.monotonic() < deadline, f"{pattern!r} not logged {count}x within {timeout}s:\n{tail}"
        time.sleep(0.1)


@pytest.mark.parametrize("mode_name", MODES)
async def test_the_wrong_material_is_a_clear_error_and_a_retry_not_a_crash(
    mode_name: str,
    tmp_path: Path,
    standin: StandinProcess,
    names: dict[str, str],
    workers: Callable[..., WorkerProcess],
) -> None:
    mode = build_mode(mode_name, tmp_path)
    with running_nats_server(extra_args=mode.server_args) as server:
        scheme = "tls" if "TLS" in " ".join(mode.bad_worker_env) else "nats"
        worker = workers(f"{scheme}://127.0.0.1:{server.port}", standin.url, **names, **mode.bad_worker_env)
        # Retried: the reason is logged again on the next attempt.
        await asyncio.to_thread(wait_for_log, worker, mode.bad_error, count=2)
        status, body = worker.get("/readyz")
        assert status == 503
        assert "nats_disconnected" in json.loads(body)["reasons"]
        assert worker.get("/healthz")[0] == 200
        assert worker.process.poll() is None
    assert "Traceback" not in worker.log()
    assert_no_secret_in(worker.log(), mode.secrets)


async def test_sigterm_while_the_credentials_are_refused_exits_promptly(
    tmp_path: Path, standin: StandinProcess, names: dict[str, str], workers: Callable[..., WorkerProcess]
) -> None:
    mode = build_mode("token", tmp_path)
    with running_nats_server(extra_args=mode.server_args) as server:
        worker = workers(f"nats://127.0.0.1:{server.port}", standin.url, **names, **mode.bad_worker_env)
        await asyncio.to_thread(wait_for_log, worker, mode.bad_error, count=2)
        assert await asyncio.to_thread(worker.terminate, 10) == 0


async def test_an_expired_server_certificate_is_refused_and_retried(
    tmp_path: Path, standin: StandinProcess, names: dict[str, str], workers: Callable[..., WorkerProcess]
) -> None:
    pki = Pki.create(tmp_path / "pki")
    stale = pki.issue("nats-server", server=True, expired=True)
    with running_nats_server(extra_args=["--tls", "--tlscert", str(stale.cert), "--tlskey", str(stale.key)]) as server:
        worker = workers(f"tls://127.0.0.1:{server.port}", standin.url, **names, NATS_TLS_CA=str(pki.ca_cert))
        await asyncio.to_thread(wait_for_log, worker, "certificate has expired", count=2)
        assert worker.get("/readyz")[0] == 503
        assert await asyncio.to_thread(worker.terminate) == 0


async def test_a_server_certificate_for_another_host_is_refused_and_retried(
    tmp_path: Path, standin: StandinProcess, names: dict[str, str], workers: Callable[..., WorkerProcess]
) -> None:
    pki = Pki.create(tmp_path / "pki")
    elsewhere = pki.issue("nats-server", server=True, dns_names=["nats.elsewhere.example"], ips=[])
    with running_nats_server(
        extra_args=["--tls", "--tlscert", str(elsewhere.cert), "--tlskey", str(elsewhere.key)]
    ) as server:
        worker = workers(f"tls://127.0.0.1:{server.port}", standin.url, **names, NATS_TLS_CA=str(pki.ca_cert))
        await asyncio.to_thread(wait_for_log, worker, "IP address mismatch", count=2)
        assert worker.get("/readyz")[0] == 503
        assert await asyncio.to_thread(worker.terminate) == 0


async def test_tls_configured_against_a_plaintext_server_never_connects_in_plaintext(
    tmp_path: Path, standin: StandinProcess, names: dict[str, str], workers: Callable[..., WorkerProcess]
) -> None:
    pki = Pki.create(tmp_path / "pki")
    with running_nats_server(extra_args=["--auth", TOKEN]) as plaintext:
        worker = workers(
            f"tls://127.0.0.1:{plaintext.port}", standin.url, **names, NATS_TLS_CA=str(pki.ca_cert), NATS_TOKEN=TOKEN
        )
        # Refused with a clear reason, and retried (a fixed server would be picked up), never connected.
        await asyncio.to_thread(wait_for_log, worker, "server offered plaintext", count=2)
        assert worker.get("/readyz")[0] == 503
        assert await asyncio.to_thread(worker.terminate) == 0
    assert f"worker {worker.worker_id} pulling" not in worker.log(), "the worker connected in plaintext"
    assert_no_secret_in(worker.log(), [TOKEN])


def test_the_worker_distribution_brings_what_nkey_and_creds_auth_need() -> None:
    requirements = importlib.metadata.requires("noetl-worker") or []
    assert any(r.replace(" ", "").startswith(("nkeys", "nats-py[nkeys")) for r in requirements), requirements
