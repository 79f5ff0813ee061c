"""The stand-in image serves the jobs `noetl-worker dev` runs, to workers of the worker image.

Both run as containers (hardened as in a Pod) on the host's loopback with the session's nats-server:
the stand-in container publishes the sample job's pointers, worker containers claim and run them.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus
from noetl_worker.devmode import DEFAULT_JOB, load_job

from tests.support.containers import REPO_ROOT, Container, ContainerWorker, running_container, start_container_worker
from tests.support.nats import NatsServer, free_port


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture
def standin_container(
    images: dict[str, str], nats_server: NatsServer, names: dict[str, str]
) -> Iterator[tuple[Container, str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "NOETL_STANDIN_NATS_URL": nats_server.url,
        "NOETL_STANDIN_NATS_STREAM": names["NATS_STREAM"],
        "NOETL_STANDIN_NATS_SUBJECT": names["NATS_SUBJECT"],
    }
    with running_container(images["standin"], ["--host", "127.0.0.1", "--port", str(port)], env=env) as container:
        deadline = time.monotonic() + 60
        while not healthy(url):
            assert container.state()["status"] == "running", container.logs()[-3000:]
            assert time.monotonic() < deadline, f"stand-in container not healthy:\n{container.logs()[-3000:]}"
            time.sleep(0.1)
        yield container, url


async def test_the_sample_job_of_dev_mode_runs_through_the_stand_in_image(
    images: dict[str, str],
    standin_container: tuple[Container, str],
    nats_server: NatsServer,
    names: dict[str, str],
    tmp_path: Path,
) -> None:
    container, url = standin_container
    spec = load_job(REPO_ROOT / DEFAULT_JOB)
    workers: list[ContainerWorker] = []
    try:
        for _ in range(2):
            worker = start_container_worker(
                tmp_path, nats_server.url, url, image=images["worker"], WORKER_MAX_CONCURRENT="8", **names
            )
            workers.append(worker)
            worker.wait_ready(timeout=60)
        async with StandinAdmin(url) as admin:
            job = await admin.submit_job(spec)
            done = await admin.wait_job(job.execution_id, timeout=120)
            assert done.status is JobStatus.COMPLETED, container.logs()[-3000:]
            completed = await admin.events(job.execution_id, name="command.completed")
            assert sorted(event["node_name"] for event in completed) == sorted(c.name for c in spec.commands)
            assert {event["worker_id"] for event in completed} <= {worker.worker_id for worker in workers}
    finally:
        for worker in workers:
            worker.kill()
    assert container.proc_status()["Uid"].split()[0] == "65532"
