"""The worker image as the product: a hardened container runs the whole worker protocol.

The container runs as deploy/ runs the worker Pod (read-only root filesystem, tmpfs /tmp, UID 65532, no
capabilities; tests/support/containers.py) against a real nats-server and the stand-in control plane on
the host's loopback: it registers, claims, reports events, dead-letters poison, drains on SIGTERM and
deregisters. Each tool kind with a runtime dependency in the image runs once inside it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js.api import StreamConfig
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus

from tests.support.containers import ContainerWorker, docker, start_container_worker
from tests.support.nats import NatsServer
from tests.support.postgres import PostgresInstance
from tests.support.standin import StandinProcess, running_standin
from tests.worker.runtime.support import completions, statuses, wait_until, worker_status
from tests.worker.tools.peers import echo_app, serving


@pytest.fixture
def standin(nats_server: NatsServer, names: dict[str, str]) -> Iterator[StandinProcess]:
    with running_standin(
        nats_url=nats_server.url, nats_stream=names["NATS_STREAM"], nats_subject=names["NATS_SUBJECT"]
    ) as process:
        yield process


@pytest.fixture
async def admin(standin: StandinProcess) -> AsyncIterator[StandinAdmin]:
    async with StandinAdmin(standin.url) as client:
        yield client


@pytest.fixture
def worker_container(
    images: dict[str, str], tmp_path: Path, nats_server: NatsServer, standin: StandinProcess, names: dict[str, str]
) -> Iterator[Callable[..., ContainerWorker]]:
    """``worker_container(**env)``: a ready worker container on this test's stream; all stopped at the end."""
    started: list[ContainerWorker] = []

    def start(**env: str) -> ContainerWorker:
        worker = start_container_worker(tmp_path, nats_server.url, standin.url, image=images["worker"], **names, **env)
        started.append(worker)
        worker.wait_ready(timeout=60)
        return worker

    yield start
    for worker in started:
        worker.kill()


def sleeper(name: str, seconds: float) -> dict[str, Any]:
    return {"name": name, "kind": "shell", "tool_config": {"command": f"sleep {seconds}"}}


async def test_the_container_runs_hardened_as_in_the_pod(worker_container: Callable[..., ContainerWorker]) -> None:
    container = worker_container().container
    status = container.proc_status()
    assert status["Uid"].split()[:2] == ["65532", "65532"]
    assert status["Gid"].split()[:2] == ["65532", "65532"]
    assert status["CapEff"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"
    inspected = json.loads(docker("inspect", container.name).stdout)[0]
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    assert list(inspected["HostConfig"]["Tmpfs"]) == ["/tmp"]


async def test_claims_runs_and_reports_events_for_every_command(
    admin: StandinAdmin, worker_container: Callable[..., ContainerWorker]
) -> None:
    worker = worker_container(WORKER_MAX_CONCURRENT="4")
    assert await worker_status(admin, worker.worker_id) == "ready"
    job = await admin.submit_job([{"name": f"s{i}", "kind": "noop", "tool_config": {"result": i}} for i in range(10)])
    done = await admin.wait_job(job.execution_id, timeout=60)
    assert done.status is JobStatus.COMPLETED, worker.log()[-3000:]
    assert await completions(admin, job.execution_id) == {f"s{i}": 1 for i in range(10)}
    names = [event["event_type"] for event in await admin.events(job.execution_id)]
    assert names.count("call.done") == 10
    assert (await admin.counters())["claims"].get("claimed") == 10
    assert worker.metric("noetl_worker_messages_acked_total", reason="completed") == 10
    finished = [record for record in worker.log_records() if record.get("msg") == "command finished"]
    assert len(finished) == 10


async def test_poison_is_dead_lettered_and_the_worker_keeps_working(
    admin: StandinAdmin,
    worker_container: Callable[..., ContainerWorker],
    nats_server: NatsServer,
    names: dict[str, str],
) -> None:
    worker = worker_container()
    dead_letters = f"DLQ_{names['NATS_STREAM']}"
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=dead_letters, subjects=[f"noetl.deadletter.{names['NATS_CONSUMER']}"]))
        await js.publish(names["NATS_SUBJECT"], b"\x00\xffnot json")
        ghost = {"execution_id": 12, "event_id": 424242, "command_id": 5, "step": "ghost", "server_url": admin.url}
        await js.publish(names["NATS_SUBJECT"], json.dumps(ghost).encode())
        await wait_until(lambda: worker.metric("noetl_worker_messages_dead_lettered_total") == 2, timeout=30)
        reasons = [json.loads((await js.get_msg(dead_letters, seq)).data or b"{}")["reason"] for seq in (1, 2)]
    finally:
        await nc.close()
    assert any("not valid JSON" in reason for reason in reasons)
    assert any(reason.startswith("command_not_found") for reason in reasons)
    job = await admin.submit_job([{"name": "after", "kind": "noop"}])
    assert (await admin.wait_job(job.execution_id, timeout=30)).status is JobStatus.COMPLETED
    assert worker.container.state()["status"] == "running"


async def test_sigterm_drains_in_flight_commands_deregisters_and_exits_0(
    admin: StandinAdmin, worker_container: Callable[..., ContainerWorker]
) -> None:
    worker = worker_container(WORKER_MAX_CONCURRENT="2")
    job = await admin.submit_job([sleeper("a", 1.5), sleeper("b", 1.5)])

    async def both_running() -> bool:
        return set((await statuses(admin, job.execution_id)).values()) <= {"CLAIMED", "RUNNING"}

    await wait_until(both_running, timeout=30, what="both commands to run")
    assert await asyncio.to_thread(worker.terminate) == 0
    assert (await admin.job(job.execution_id)).status is JobStatus.COMPLETED
    assert await completions(admin, job.execution_id) == {"a": 1, "b": 1}
    assert await worker_status(admin, worker.worker_id) == "offline"
    assert "drain requested" in worker.log()


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serving(echo_app()) as url:
        yield url


async def test_every_tool_kind_with_a_runtime_dependency_runs_inside_the_image(
    admin: StandinAdmin,
    worker_container: Callable[..., ContainerWorker],
    nats_server: NatsServer,
    postgres: PostgresInstance,
    echo_url: str,
) -> None:
    worker = worker_container()
    await admin.seed_credential("pg", {"db_host": postgres.host, "db_port": str(postgres.port),
                                       "db_user": postgres.user, "db_password": postgres.password,
                                       "db_name": postgres.database}, type="postgres")  # fmt: skip
    bucket = f"img_{uuid.uuid4().hex[:8]}"
    nats_step = {"url": nats_server.url, "bucket": bucket, "key": "k"}
    job = await admin.submit_job(
        [
            # The python tool's subprocess is the venv's python3 (first on the image's PATH).
            {"name": "python", "kind": "python",
             "tool_config": {"code": "import sys\nresult = {'v': x * 2, 'exe': sys.executable}", "input": {"x": 21}}},
            # The shell tool runs the base image's /bin/sh, writing only to the tmpfs /tmp.
            {"name": "shell", "kind": "shell",
             "tool_config": {"command": "echo hi > /tmp/f && cat /tmp/f && id -u && touch /opt/x 2>&1 || true"}},
            {"name": "duckdb", "kind": "duckdb", "tool_config": {"query": "SELECT 6 * 7 AS answer"}},
            {"name": "postgres", "kind": "postgres",
             "tool_config": {"auth": "pg", "query": "SELECT $1::int + 1 AS n", "params": [41]}},
            {"name": "http", "kind": "http", "tool_config": {"url": f"{echo_url}/echo"}},
            {"name": "nats_put", "kind": "nats",
             "tool_config": {**nats_step, "operation": "kv_put", "value": {"from": "image"}, "create_bucket": True}},
            {"name": "nats_get", "kind": "nats", "tool_config": {**nats_step, "operation": "kv_get"},
             "after": ["nats_put"]},
        ]
    )  # fmt: skip
    done = await admin.wait_job(job.execution_id, timeout=90)
    assert done.status is JobStatus.COMPLETED, (done, worker.log()[-3000:])
    responses = {
        e["node_name"]: e["payload"]["response"] for e in await admin.events(job.execution_id, name="call.done")
    }
    assert responses["python"]["v"] == 42
    assert responses["python"]["exe"].startswith("/opt/venv/bin/python")
    assert responses["shell"]["stdout"].splitlines()[:2] == ["hi", "65532"]
    assert "Read-only file system" in responses["shell"]["stdout"]
    assert responses["duckdb"]["rows"] == [{"answer": 42}]
    assert responses["postgres"]["rows"] == [{"n": 42}]
    assert responses["http"]["status_code"] == 200
    assert responses["http"]["body"]["path"] == "/echo"
    assert responses["nats_get"]["value"] == {"from": "image"}


async def test_the_control_plane_sees_the_image_s_worker_over_http(
    admin: StandinAdmin, worker_container: Callable[..., ContainerWorker]
) -> None:
    worker = worker_container()
    # /metrics and the probes answer from inside the container on the port the Pod spec names.
    assert worker.get("/healthz") == (200, "ok")
    assert worker.get("/readyz")[0] == 200
    async with httpx.AsyncClient() as client:
        metrics = await client.get(f"{worker.metrics_url}/metrics")
    assert "noetl_worker_" in metrics.text
