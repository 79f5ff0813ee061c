"""The ack policy in practice: duplicates, 409s, poison messages, pre-tool failures, secrets.

Real nats-server, the stand-in over HTTP, workers as subprocesses.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import nats
import pytest
from nats.js.api import StreamConfig
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobSpec, JobStatus

from tests.support.nats import NatsServer
from tests.worker.runtime.support import completions, wait_until
from tests.worker.workerproc import WorkerProcess

pytestmark = pytest.mark.integration

WORKER_EVENTS = {
    "command.started", "step.enter", "call.done", "call.error", "step.exit", "command.completed", "command.failed",
}  # fmt: skip


async def consumer_settled(nats_url: str, names: dict[str, str]) -> bool:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(names["NATS_STREAM"], names["NATS_CONSUMER"])
    finally:
        await nc.close()
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_a_duplicate_delivered_to_the_same_worker_runs_once(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    worker = workers()
    job = await admin.submit_job([{"name": "slow", "kind": "shell", "tool_config": {"command": "sleep 1.5"}}])

    async def running() -> bool:
        return (await admin.job(job.execution_id)).commands["slow"].command_status in ("CLAIMED", "RUNNING")

    await wait_until(running, what="the command to be claimed")
    event_id = (await admin.job(job.execution_id)).commands["slow"].event_id
    assert event_id is not None
    await admin.publish(event_id)  # while it runs
    await wait_until(lambda: worker.metric("noetl_worker_messages_acked_total", reason="duplicate_running") == 1)
    assert (await admin.wait_job(job.execution_id, timeout=20)).status is JobStatus.COMPLETED
    await admin.publish(event_id)  # after it finished
    await wait_until(lambda: worker.metric("noetl_worker_messages_acked_total", reason="duplicate_finished") == 1)
    assert await completions(admin, job.execution_id) == {"slow": 1}
    assert (await admin.counters())["claims"].get("claimed") == 1


async def test_duplicates_across_several_workers_run_each_command_once(
    admin: StandinAdmin,
    workers: Callable[..., WorkerProcess],
    nats_server: NatsServer,
    names: dict[str, str],
) -> None:
    pool = [workers(WORKER_MAX_CONCURRENT="4") for _ in range(3)]
    job = await admin.submit_job([{"name": f"c{i}", "kind": "noop"} for i in range(30)])
    view = await admin.job(job.execution_id)
    for command in view.commands.values():
        assert command.event_id is not None
        await admin.publish(command.event_id)
        await admin.publish(command.event_id)
    assert (await admin.wait_job(job.execution_id, timeout=30)).status is JobStatus.COMPLETED
    assert await completions(admin, job.execution_id) == {f"c{i}": 1 for i in range(30)}
    assert (await admin.counters())["claims"].get("claimed") == 30
    # Every copy is eventually settled: nothing left pending or un-acked on the consumer.
    await wait_until(lambda: consumer_settled(nats_server.url, names), timeout=30, what="the consumer to settle")
    settled = sum(
        w.metric("noetl_worker_messages_acked_total", reason=reason)
        for w in pool
        for reason in ("completed", "claimed_elsewhere", "already_terminal", "duplicate_running", "duplicate_finished")
    )
    assert settled == 90
    for worker in pool:
        assert worker.terminate() == 0


async def test_poison_messages_are_terminated_and_dead_lettered_without_crashing(
    admin: StandinAdmin,
    workers: Callable[..., WorkerProcess],
    nats_server: NatsServer,
    names: dict[str, str],
) -> None:
    worker = workers()
    dead_letter_subject = f"noetl.deadletter.{names['NATS_CONSUMER']}"
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=f"DLQ_{names['NATS_STREAM']}", subjects=[dead_letter_subject]))
    subject = names["NATS_SUBJECT"]
    await js.publish(subject, b"not json at all")
    await js.publish(subject, json.dumps({"execution_id": "12", "event_id": 1, "command_id": 1, "step": "s",
                                          "server_url": admin.url}).encode())  # fmt: skip
    await js.publish(subject, json.dumps({"execution_id": 12, "event_id": 1, "step": "s"}).encode())
    await js.publish(subject, json.dumps({"execution_id": 12, "event_id": 424242, "command_id": 5, "step": "ghost",
                                          "server_url": admin.url}).encode())  # fmt: skip
    await js.publish(subject, json.dumps({"execution_id": 12, "event_id": 9, "command_id": 5, "step": "s",
                                          "server_url": "ftp://nowhere"}).encode())  # fmt: skip
    await wait_until(lambda: worker.metric("noetl_worker_messages_dead_lettered_total") == 5)
    assert worker.metric("noetl_worker_messages_termed_total", reason="undecodable") == 4
    assert worker.metric("noetl_worker_messages_termed_total", reason="command_not_found") == 1
    reasons = []
    for seq in range(1, 6):
        record = json.loads((await js.get_msg(f"DLQ_{names['NATS_STREAM']}", seq)).data)
        reasons.append(record["reason"])
    await nc.close()
    assert any("not valid JSON" in r for r in reasons)
    assert any("'execution_id' must be a JSON integer" in r for r in reasons)
    assert any("missing required field 'command_id'" in r for r in reasons)
    assert any(r.startswith("command_not_found") for r in reasons)
    assert any("'server_url' is not an http(s) URL" in r for r in reasons)
    await wait_until(lambda: consumer_settled(nats_server.url, names), what="no redelivery")
    # Still alive and working.
    job = await admin.submit_job([{"name": "after", "kind": "noop"}])
    assert (await admin.wait_job(job.execution_id)).status is JobStatus.COMPLETED
    assert worker.get("/healthz")[0] == 200
    assert worker.terminate() == 0


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ({"name": "s", "kind": "no_such_kind"}, "Tool not found: no_such_kind"),
        ({"name": "s", "kind": "noop", "tool_config": {"auth": "missing_alias"}}, "Credential alias 'missing_alias'"),
        ({"name": "s", "kind": "shell", "tool_config": {"cwd": "/tmp"}}, "shell.command: required"),
    ],
)
async def test_failures_before_the_tool_runs_end_in_call_error_and_command_failed(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess], command: dict[str, Any], error: str
) -> None:
    workers()
    job = await admin.submit_job([command])
    done = await admin.wait_job(job.execution_id, timeout=20)
    names = [e["event_type"] for e in await admin.events(job.execution_id)]
    assert done.status is JobStatus.FAILED
    assert "call.error" in names
    assert "command.failed" in names
    (call_error,) = await admin.events(job.execution_id, name="call.error")
    assert error in call_error["payload"]["error"]


async def test_secrets_never_appear_in_events_or_logs(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    keychain_secret = "kc-s3cr3t-value-123"
    credential_secret = "tok-credential-abcdef"
    worker = workers(NOETL_KEYCHAIN_ENV_VARS="MY_SECRET", MY_SECRET=keychain_secret)
    await admin.seed_credential("api", {"token": credential_secret}, type="bearer")
    echo = f"{credential_secret} and {keychain_secret}"
    ok = await admin.submit_job(
        [{"name": "echo", "kind": "noop", "tool_config": {"auth": "api", "result": {"echo": echo, "password": "pw1"}}}]
    )
    failing = await admin.submit_job(
        [{"name": "leak", "kind": "shell",
          "tool_config": {"auth": "api", "command": f"echo {credential_secret} {keychain_secret} >&2; exit 3"}}]
    )  # fmt: skip
    assert (await admin.wait_job(ok.execution_id)).status is JobStatus.COMPLETED
    assert (await admin.wait_job(failing.execution_id)).status is JobStatus.FAILED
    # What the worker emitted (the stand-in's own command.issued holds the job's config, secrets included).
    emitted = [
        event
        for execution_id in (ok.execution_id, failing.execution_id)
        for event in await admin.events(execution_id)
        if event["event_type"] in WORKER_EVENTS
    ]
    assert {e["event_type"] for e in emitted} == WORKER_EVENTS
    events = json.dumps(emitted)
    assert "[REDACTED]" in events
    assert credential_secret not in events
    assert keychain_secret not in events
    assert "pw1" not in events
    assert worker.terminate() == 0
    log = worker.log()
    assert "command failed" in log
    assert credential_secret not in log
    assert keychain_secret not in log


@pytest.mark.parametrize("standin_settings", [{"pool_routing": True}])
async def test_a_filtered_pool_consumer_takes_only_its_pool(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess], names: dict[str, str]
) -> None:
    shared = workers(NATS_FILTER_SUBJECT=f"{names['NATS_SUBJECT']}.shared.>")
    job = await admin.submit_job([{"name": f"c{i}", "kind": "noop"} for i in range(5)])
    assert (await admin.wait_job(job.execution_id)).status is JobStatus.COMPLETED
    routed_to_system = JobSpec.model_validate({"commands": [{"name": "sys", "kind": "noop"}], "path": "system/x"})
    system = await admin.submit_job(routed_to_system)
    await asyncio.sleep(1.0)
    assert (await admin.job(system.execution_id)).status is JobStatus.RUNNING  # nobody serves `system`
    assert shared.metric("noetl_worker_pulls_total", outcome="claimed") == 5
