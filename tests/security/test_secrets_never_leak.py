"""Every tool kind, with secrets in its config and its auth, pushed into errors: no secret value ever leaks.

A worker process runs one command per tool kind against the stand-in. Each command carries a keychain
secret (``NOETL_KEYCHAIN_ENV_VARS``) through a template and a credential through ``auth``, and most are
built to fail in a way that echoes the secret (a refused connection naming the URL, a cast error quoting
the value, a script that throws it, stderr that prints it). Then every event the worker emitted, every
line it logged, every metric label it exposed and every result it stored is scanned for the raw values
and for their base64 and URL-encoded forms.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus
from noetl_worker.tools.registry import DEFAULT_TOOLS

from tests.support.nats import NatsServer
from tests.support.postgres import PostgresInstance
from tests.support.standin import StandinProcess, running_standin
from tests.worker.workerproc import WorkerProcess, start_worker

pytestmark = pytest.mark.integration

KEYCHAIN = "kc-Vb38q-keychain-secret"
CREDENTIAL = "cred-Lm21z-bearer-secret"
NATS_PASSWORD = "nats-Pq77x-password-secret"
K = "{{ keychain.NOETL_TEST_SECRET }}"

WORKER_EVENTS = {"command.started", "step.enter", "call.done", "call.error", "step.exit", "command.completed",
                 "command.failed"}  # fmt: skip


def commands(dsn: str) -> list[dict[str, Any]]:
    """One command per tool kind; the comment on each says how it tries to leak."""
    refused = "http://127.0.0.1:9"
    return [
        # Echoes both secrets in its result, under innocent and under secret-looking keys.
        {"name": "noop", "kind": "noop", "tool_config": {"auth": "api", "result": {"echo": f"{K} {CREDENTIAL}",
                                                                                "password": K}}},
        # Prints both to stderr, then fails.
        {"name": "shell", "kind": "shell",
         "tool_config": {"auth": "api", "command": f"echo {K} {CREDENTIAL} >&2; exit 3"}},
        # Raises with the secrets in the message (and so in the traceback on stderr).
        {"name": "python", "kind": "python",
         "tool_config": {"auth": "api", "code": "raise RuntimeError(args['s'])", "args": {"s": f"{K} {CREDENTIAL}"}}},
        # Connection refused to a URL that carries the secret; a bearer credential in the headers.
        {"name": "http", "kind": "http",
         "tool_config": {"url": f"{refused}/x?k={K}", "timeout_seconds": 3,
                         "auth": {"type": "bearer", "credential": "api"}}},
        # The server quotes the value it cannot cast.
        {"name": "postgres", "kind": "postgres",
         "tool_config": {"connection_string": dsn, "query": "SELECT $1::int AS n", "params": [K]}},
        {"name": "duckdb", "kind": "duckdb", "tool_config": {"query": f"SELECT CAST('{K}' AS INTEGER)"}},
        {"name": "ducklake", "kind": "ducklake", "tool_config": {"query": f"SELECT CAST('{K}' AS INTEGER)"}},
        # Wrong credentials in the URL of a server that is not there.
        {"name": "nats", "kind": "nats",
         "tool_config": {"url": "nats://127.0.0.1:9", "user": "u", "password": NATS_PASSWORD, "token": K,
                         "operation": "publish", "subject": "x", "data": K, "timeout_seconds": 2}},
        {"name": "mcp", "kind": "mcp",
         "tool_config": {"url": f"{refused}/mcp?k={K}", "headers": {"Authorization": f"Bearer {K}"},
                         "method": "tools/list", "timeout_seconds": 3}},
        {"name": "rhai", "kind": "rhai", "tool_config": {"code": "throw `leaked: ${s}`;", "args": {"s": K}}},
        # Reads both secrets into its result without reveal.
        {"name": "secrets", "kind": "secrets", "tool_config": {"name": "NOETL_TEST_SECRET"}},
        {"name": "secrets_credential", "kind": "secrets", "tool_config": {"name": "api", "provider": "credential"}},
        {"name": "result_fetch", "kind": "result_fetch", "tool_config": {"ref": f"noetl://execution/1/result/{K}"}},
        # The command's credential (resolved by the executor) echoed by a task; per-task aliases: see below.
        {"name": "task_sequence", "kind": "task_sequence",
         "tool_config": {"auth": "api",
                         "tasks": [{"name": "first", "kind": "noop", "result": {"v": K}},
                                   {"name": "second", "kind": "shell", "command": f"echo {K} {CREDENTIAL}; exit 4"}]}},
        # Large enough to go to the result store instead of inline into the event.
        {"name": "noop_large", "kind": "noop", "tool_config": {"result": {"blob": "x" * 150_000, "secret": K}}},
    ]  # fmt: skip


def encodings(value: str) -> list[str]:
    return [
        value,
        base64.b64encode(value.encode()).decode(),
        base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
        urllib.parse.quote(value),
        json.dumps(value)[1:-1],
    ]


def leaks(text: str) -> list[str]:
    return [form for secret in (KEYCHAIN, CREDENTIAL, NATS_PASSWORD) for form in encodings(secret) if form in text]


@pytest.fixture
def standin(nats_server: NatsServer, names: dict[str, str]) -> Iterator[StandinProcess]:
    with running_standin(nats_url=nats_server.url, nats_stream=names["NATS_STREAM"],
                         nats_subject=names["NATS_SUBJECT"]) as process:  # fmt: skip
        yield process


@pytest.fixture
def worker(
    tmp_path: Path, nats_server: NatsServer, standin: StandinProcess, names: dict[str, str]
) -> Iterator[WorkerProcess]:
    process = start_worker(
        tmp_path, nats_server.url, standin.url, **names, WORKER_MAX_CONCURRENT="4", WORKER_COMMAND_TIMEOUT="30",
        NOETL_KEYCHAIN_ENV_VARS="NOETL_TEST_SECRET", NOETL_TEST_SECRET=KEYCHAIN,
    )  # fmt: skip
    process.wait_ready()
    yield process
    if process.process.poll() is None:
        process.kill()


def test_every_tool_kind_is_exercised() -> None:
    exercised = {command["kind"] for command in commands("postgresql://x")}
    assert exercised == set(DEFAULT_TOOLS)


async def run_each(admin: StandinAdmin, batch: list[dict[str, Any]]) -> tuple[dict[str, JobStatus], list[Any]]:
    """Run every command as its own job (a failed command ends its execution, so a shared job would stop)."""
    jobs = {command["name"]: await admin.submit_job([command]) for command in batch}
    statuses = {name: (await admin.wait_job(job.execution_id, timeout=60)).status for name, job in jobs.items()}
    await admin.drain()
    # The stand-in's own command.issued holds the job's config, secrets included: only what the worker
    # emitted is in scope.
    emitted = [
        event
        for job in jobs.values()
        for event in await admin.events(job.execution_id)
        if event["event_type"] in WORKER_EVENTS
    ]
    return statuses, emitted


def result_refs(emitted: list[dict[str, Any]]) -> set[str]:
    refs = set()
    for event in emitted:
        result = (event.get("payload") or {}).get("result")
        reference = result.get("reference") if isinstance(result, dict) else None
        if isinstance(reference, dict) and isinstance(reference.get("ref"), str):
            refs.add(reference["ref"])
    return refs


def leaking_events(emitted: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted({(e["node_name"], e["event_type"]) for e in emitted if leaks(json.dumps(e))})


async def test_no_secret_reaches_events_logs_metrics_or_results(
    standin: StandinProcess, worker: WorkerProcess, postgres: PostgresInstance
) -> None:
    async with StandinAdmin(standin.url) as admin:
        await admin.seed_credential("api", {"token": CREDENTIAL}, type="bearer")
        statuses, emitted = await run_each(admin, commands(postgres.dsn))
    async with httpx.AsyncClient(base_url=standin.url) as http:
        stored = [(await http.get("/api/result/resolve", params={"ref": ref})).text for ref in result_refs(emitted)]
    failed = {name for name, status in statuses.items() if status is JobStatus.FAILED}
    assert {"shell", "python", "http", "postgres", "duckdb", "nats", "rhai", "task_sequence"} <= failed, statuses
    assert len([e for e in emitted if e["event_type"] == "call.error"]) == len(failed)
    assert stored, "the large result was not externalised: the result store went unchecked"
    assert "[REDACTED]" in json.dumps(emitted)
    assert leaking_events(emitted) == [], "a secret reached an emitted event"
    assert leaks(json.dumps(stored)) == [], "a secret reached the result store"
    status, metrics = worker.get("/metrics")
    assert status == 200
    assert leaks(metrics) == [], "a secret reached a metric label"
    assert await asyncio.to_thread(worker.terminate) == 0
    assert leaks(worker.log()) == [], "a secret reached the worker's log"


async def test_a_credential_resolved_for_one_task_of_a_sequence_is_scrubbed_too(
    standin: StandinProcess, worker: WorkerProcess
) -> None:
    sequence = {"name": "task_auth", "kind": "task_sequence",
                "tool_config": {"tasks": [{"name": "leaky", "kind": "shell", "auth": "api",
                                           "command": f"echo {CREDENTIAL}; exit 4"}]}}  # fmt: skip
    async with StandinAdmin(standin.url) as admin:
        await admin.seed_credential("api", {"token": CREDENTIAL}, type="bearer")
        statuses, emitted = await run_each(admin, [sequence])
    assert statuses == {"task_auth": JobStatus.FAILED}
    assert leaking_events(emitted) == []
