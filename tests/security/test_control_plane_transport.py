"""Worker <-> control plane over HTTPS with a bearer token (``NOETL_API_TOKEN``).

The stand-in sits behind a TLS-terminating proxy that demands the token (the part a NoETL server's ingress
plays); the pointers the stand-in publishes name the proxy's ``https://`` URL. The worker trusts the test CA
through ``SSL_CERT_FILE`` (the worker has no setting of its own for a control-plane CA).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus

from tests.security.tlsproxy import TlsBearerProxy, running_tls_proxy
from tests.support.nats import NatsServer
from tests.support.standin import StandinProcess, running_standin
from tests.support.tls import Pki
from tests.worker.workerproc import WorkerProcess, start_worker

pytestmark = pytest.mark.integration

TOKEN = "bearer-Qm93-never-logged"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.create(tmp_path / "pki")


@pytest.fixture
async def proxy(pki: Pki) -> AsyncIterator[TlsBearerProxy]:
    async with running_tls_proxy(pki.server_context(pki.issue("noetl-server", server=True)), TOKEN) as running:
        yield running


@pytest.fixture
def standin(nats_server: NatsServer, names: dict[str, str], proxy: TlsBearerProxy) -> Iterator[StandinProcess]:
    with running_standin(
        nats_url=nats_server.url, nats_stream=names["NATS_STREAM"], nats_subject=names["NATS_SUBJECT"],
        server_url=proxy.url,
    ) as process:  # fmt: skip
        proxy.upstream = process.url
        yield process


@pytest.fixture
def workers(
    tmp_path: Path, nats_server: NatsServer, proxy: TlsBearerProxy, names: dict[str, str]
) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = start_worker(tmp_path, nats_server.url, proxy.url, **names, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()


async def wait_for_log(worker: WorkerProcess, text: str, *, count: int = 1, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while worker.log().count(text) < count:
        assert worker.process.poll() is None, f"the worker exited ({worker.process.returncode}):\n{worker.log()}"
        assert time.monotonic() < deadline, f"{text!r} not logged {count}x within {timeout}s:\n{worker.log()[-3000:]}"
        await asyncio.sleep(0.1)


async def wait_ready(worker: WorkerProcess, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while worker.get("/readyz")[0] != 200:
        assert worker.process.poll() is None, worker.log()
        assert time.monotonic() < deadline, worker.log()[-3000:]
        await asyncio.sleep(0.1)


async def test_every_control_plane_call_goes_over_tls_with_the_bearer_token(
    pki: Pki, proxy: TlsBearerProxy, standin: StandinProcess, workers: Callable[..., WorkerProcess]
) -> None:
    worker = workers(NOETL_API_TOKEN=TOKEN, SSL_CERT_FILE=str(pki.ca_cert))
    await wait_ready(worker)
    async with StandinAdmin(standin.url) as admin:
        await admin.seed_credential("api", {"token": "cred-value"}, type="bearer")
        job = await admin.submit_job(
            [{"name": "a", "kind": "noop", "tool_config": {"auth": "api", "result": {"n": 1}}},
             {"name": "b", "kind": "noop", "after": ["a"]}]
        )  # fmt: skip
        assert (await admin.wait_job(job.execution_id, timeout=30)).status is JobStatus.COMPLETED
    assert await asyncio.to_thread(worker.terminate) == 0
    assert any("/claim" in r.path for r in proxy.seen)
    assert any(r.path.startswith("/api/events") for r in proxy.seen)
    assert any(r.path.startswith("/api/credentials") for r in proxy.seen)
    assert any("/register" in r.path for r in proxy.seen)
    assert any("/deregister" in r.path for r in proxy.seen)
    assert all(r.authorized for r in proxy.seen), [r for r in proxy.seen if not r.authorized]
    assert TOKEN not in worker.log()


async def test_a_wrong_token_is_a_clear_error_and_a_retry_not_a_crash(
    pki: Pki, proxy: TlsBearerProxy, standin: StandinProcess, workers: Callable[..., WorkerProcess]
) -> None:
    wrong = "not-" + TOKEN
    worker = workers(NOETL_API_TOKEN=wrong, SSL_CERT_FILE=str(pki.ca_cert))
    await wait_for_log(worker, "401", count=2)
    status, body = worker.get("/readyz")
    assert status == 503
    assert "not_registered" in json.loads(body)["reasons"]
    assert sum(1 for r in proxy.seen if "/register" in r.path) >= 2
    assert not any(r.authorized for r in proxy.seen)
    assert await asyncio.to_thread(worker.terminate, 15) == 0
    assert wrong not in worker.log()
    assert "Traceback" not in worker.log()


async def test_an_untrusted_server_certificate_is_a_clear_error_and_a_retry_not_a_crash(
    tmp_path: Path, proxy: TlsBearerProxy, standin: StandinProcess, workers: Callable[..., WorkerProcess]
) -> None:
    rogue = Pki.create(tmp_path / "rogue", name="rogue-ca")
    worker = workers(NOETL_API_TOKEN=TOKEN, SSL_CERT_FILE=str(rogue.ca_cert))
    await wait_for_log(worker, "CERTIFICATE_VERIFY_FAILED", count=2)
    assert worker.get("/readyz")[0] == 503
    # The TLS handshake failed before any request: the token never left the worker.
    assert proxy.seen == []
    assert await asyncio.to_thread(worker.terminate, 15) == 0
    assert "Traceback" not in worker.log()


async def test_a_pointer_naming_another_server_never_receives_the_token(
    pki: Pki,
    proxy: TlsBearerProxy,
    standin: StandinProcess,
    workers: Callable[..., WorkerProcess],
    nats_server: NatsServer,
    names: dict[str, str],
) -> None:
    worker = workers(NOETL_API_TOKEN=TOKEN, SSL_CERT_FILE=str(pki.ca_cert))
    await wait_ready(worker)
    async with running_tls_proxy(None, TOKEN) as harvester:
        harvester.upstream = standin.url  # relays, so the worker sees a working control plane
        # A pointer for a command the stand-in never issued, so no genuine pointer races it.
        pointer = {"execution_id": 7, "event_id": 424242, "command_id": 99, "step": "bait",
                   "server_url": harvester.url}  # fmt: skip
        nc = await nats.connect(nats_server.url)
        try:
            await nc.jetstream().publish(names["NATS_SUBJECT"], json.dumps(pointer).encode())
        finally:
            await nc.close()
        deadline = time.monotonic() + 10
        while not harvester.seen and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    assert harvester.seen, "the worker never called the pointer's server_url"
    assert not any(request.authorized for request in harvester.seen), "the API token went to another server"
