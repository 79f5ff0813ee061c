"""Every tool kind end to end inside the worker process: the stand-in issues one command per kind over a
real nats-server, a real ``noetl-worker`` subprocess claims and runs them against real peers (HTTP and MCP
servers, PostgreSQL, DuckDB, nats-server, the stand-in's credentials and result store), and the outcomes
are read back from the stand-in's event log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus

from tests.support.nats import NatsServer
from tests.support.postgres import PostgresInstance
from tests.support.standin import running_standin
from tests.worker.workerproc import WorkerProcess, running_worker

from .peers import echo_app, mcp_app, serving

pytestmark = pytest.mark.integration

HOSTILE = "it's; touch /tmp/noetl-e2e-pwned"


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serving(echo_app()) as url:
        yield url


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with serving(mcp_app()) as url:
        yield f"{url}/mcp"


@pytest.fixture
def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"NATS_STREAM": f"CMD_{tag}", "NATS_CONSUMER": f"pool_{tag}", "NATS_SUBJECT": f"t{tag}.commands"}


@pytest.fixture
def standin_url(nats_server: NatsServer, names: dict[str, str]) -> Iterator[str]:
    with running_standin(nats_url=nats_server.url, nats_stream=names["NATS_STREAM"],
                         nats_subject=names["NATS_SUBJECT"]) as standin:  # fmt: skip
        yield standin.url


@pytest.fixture
async def admin(standin_url: str) -> AsyncIterator[StandinAdmin]:
    async with StandinAdmin(standin_url) as client:
        yield client


@pytest.fixture
def worker(tmp_path: Path, nats_server: NatsServer, standin_url: str, names: dict[str, str]) -> Iterator[WorkerProcess]:
    with running_worker(tmp_path, nats_server.url, standin_url, **names) as process:
        yield process


def commands(echo_url: str, mcp_url: str, nats_url: str, ref: str, bucket: str) -> list[dict[str, Any]]:
    def step(name: str, kind: str, config: dict[str, Any] | list[Any], **extra: Any) -> dict[str, Any]:
        return {"name": name, "kind": kind, "tool_config": config, **extra}

    return [
        step("noop", "noop", {}),
        step("python", "python", {"code": "result = {'v': x * 2}", "input": {"x": 21}}),
        step("shell", "shell", {"command": "printf '%s' {{ workload.name | shell_quote }}"}),
        step("http", "http", {"url": f"{echo_url}/echo", "auth": "e2e_bearer"}),
        step("postgres", "postgres", {"auth": "e2e_pg", "query": "SELECT $1::int + 1 AS n", "params": [41]}),
        step("duckdb", "duckdb", {"query": "SELECT 6 * 7 AS answer"}),
        step(
            "nats_put",
            "nats",
            {
                "url": nats_url,
                "operation": "kv_put",
                "bucket": bucket,
                "key": "k",
                "value": {"from": "e2e"},
                "create_bucket": True,
            },
        ),
        step(
            "nats_get",
            "nats",
            {"url": nats_url, "operation": "kv_get", "bucket": bucket, "key": "k"},
            after=["nats_put"],
        ),
        step("mcp", "mcp", {"endpoint": mcp_url, "tool": "add", "arguments": {"a": 40, "b": 2}}),
        step("result_fetch", "result_fetch", {"ref": ref}),
        step(
            "task_sequence",
            "task_sequence",
            [
                {"first": {"kind": "noop", "result": 1}},
                {"second": {"kind": "python", "args": {"p": "{{ _prev }}"}, "code": "result = p + 1"}},
            ],
        ),
        step("secrets", "secrets", {"name": "e2e_bearer"}),
        step("rhai", "rhai", {"code": "let x = 40; x + 2"}),
        step("uses_python", "noop", {"result": "{{ python.v }}"}, after=["python"]),
    ]


async def test_every_kind_runs_inside_the_worker(
    admin: StandinAdmin, worker: WorkerProcess, standin_url: str, echo_url: str, mcp_url: str,
    nats_server: NatsServer, postgres: PostgresInstance,
) -> None:  # fmt: skip
    await admin.seed_credential("e2e_bearer", {"token": "e2e-token-value"}, type="bearer")
    await admin.seed_credential("e2e_pg", {"db_host": postgres.host, "db_port": str(postgres.port),
                                           "db_user": postgres.user, "db_password": postgres.password,
                                           "db_name": postgres.database}, type="postgres")  # fmt: skip
    async with httpx.AsyncClient() as client:
        stored = await client.put(f"{standin_url}/api/result/1", json={"name": "seeded", "data": {"rows": [1, 2]}})
    ref = stored.json()["ref"]
    bucket = f"e2e_{uuid.uuid4().hex[:8]}"

    job = await admin.submit_job(commands(echo_url, mcp_url, nats_server.url, ref, bucket), workload={"name": HOSTILE})
    done = await admin.wait_job(job.execution_id, timeout=90)
    assert done.status is JobStatus.COMPLETED, (done, worker.log()[-3000:])

    responses = {
        e["node_name"]: e["payload"]["response"] for e in await admin.events(job.execution_id, name="call.done")
    }
    assert responses["noop"] == {"status": "noop", "step": "noop"}
    assert responses["python"] == {"v": 42}
    assert responses["shell"]["stdout"] == HOSTILE
    # The alias became a bearer header at the peer; the echo of it is scrubbed before it reaches the events.
    assert responses["http"]["body"]["headers"]["authorization"] == "[REDACTED]"
    assert responses["postgres"]["rows"] == [{"n": 42}]
    assert responses["duckdb"]["rows"] == [{"answer": 42}]
    assert responses["nats_get"]["value"] == {"from": "e2e"}
    assert responses["mcp"]["text"] == "42"
    assert responses["result_fetch"] == {"rows": [1, 2]}
    assert responses["task_sequence"] == {"first": 1, "second": 2}
    assert responses["secrets"]["value"] == {"token": "[REDACTED]"}
    assert responses["rhai"] == 42
    assert responses["uses_python"] == 42
    events = await admin.events(job.execution_id)
    assert "e2e-token-value" not in str(events)
    assert "e2e-token-value" not in worker.log()
    assert not Path("/tmp/noetl-e2e-pwned").exists()
