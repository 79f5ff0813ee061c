"""A stand-in on the shared nats-server with per-test stream names, and a factory for worker processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from noetl_standin.admin import StandinAdmin

from tests.support.nats import NatsServer
from tests.support.standin import StandinProcess, running_standin
from tests.worker.workerproc import WorkerProcess, start_worker


@pytest.fixture
def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"NATS_STREAM": f"CMD_{tag}", "NATS_CONSUMER": f"pool_{tag}", "NATS_SUBJECT": f"t{tag}.commands"}


@pytest.fixture
def standin_settings() -> dict[str, Any]:
    """Override per test (e.g. shorter leases)."""
    return {}


@pytest.fixture
def standin(
    nats_server: NatsServer, names: dict[str, str], standin_settings: dict[str, Any]
) -> Iterator[StandinProcess]:
    with running_standin(
        nats_url=nats_server.url, nats_stream=names["NATS_STREAM"], nats_subject=names["NATS_SUBJECT"],
        **standin_settings,
    ) as process:  # fmt: skip
        yield process


@pytest.fixture
async def admin(standin: StandinProcess) -> AsyncIterator[StandinAdmin]:
    async with StandinAdmin(standin.url) as client:
        yield client


@pytest.fixture
def workers(
    tmp_path: Path, nats_server: NatsServer, standin: StandinProcess, names: dict[str, str]
) -> Iterator[Callable[..., WorkerProcess]]:
    """``workers(**env)`` starts a worker process (ready) on this test's stream; all are stopped at the end."""
    started: list[WorkerProcess] = []

    def start(ready: bool = True, **env: str) -> WorkerProcess:
        worker = start_worker(tmp_path, nats_server.url, standin.url, **{**names, **env})
        started.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()
