"""The worker process end to end: real nats-server, the stand-in over HTTP, the worker as a subprocess."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus
from noetl_standin.natsserver import free_port

from tests.support.nats import NatsServer, running_nats_server
from tests.support.standin import running_standin
from tests.worker.runtime.support import completions, statuses, wait_until, worker_status
from tests.worker.workerproc import WorkerProcess, running_worker, start_worker

pytestmark = pytest.mark.integration


def noop_job(n: int) -> list[dict[str, Any]]:
    return [{"name": f"step{i}", "kind": "noop", "tool_config": {"result": {"i": i}}} for i in range(n)]


async def test_many_commands_complete_exactly_once(admin: StandinAdmin, workers: Callable[..., WorkerProcess]) -> None:
    # "command finished" is a DEBUG line (one INFO line per command was a measurable share of the CPU).
    worker = workers(WORKER_MAX_CONCURRENT="8", WORKER_LOG_LEVEL="DEBUG")
    jobs = [await admin.submit_job(noop_job(25)) for _ in range(4)]
    for job in jobs:
        done = await admin.wait_job(job.execution_id, timeout=60)
        assert done.status is JobStatus.COMPLETED, done
    counters = await admin.counters()
    assert counters["claims"].get("claimed", 0) == 100
    for job in jobs:
        events = await admin.events(job.execution_id)
        names = [e["event_type"] for e in events]
        assert names.count("command.completed") == 25
        assert names.count("call.done") == 25
    assert worker.metric("noetl_worker_messages_acked_total", reason="completed") == 100
    assert worker.metric("noetl_worker_pulls_total", outcome="claimed") == 100
    assert "noetl_worker_nats_consumer_pending{" in worker.get("/metrics")[1]
    assert worker.terminate() == 0
    finished = [r for r in worker.log_records() if r["msg"] == "command finished"]
    assert len(finished) == 100
    assert all({"execution_id", "command_id", "step"} <= set(r) for r in finished)


def sleeper(name: str, seconds: float, after: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "kind": "shell", "tool_config": {"command": f"sleep {seconds}"}, "after": after or []}


async def test_sigterm_lets_in_flight_commands_finish_deregisters_and_exits_0(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    worker = workers(WORKER_MAX_CONCURRENT="2")
    job = await admin.submit_job([sleeper("a", 1.5), sleeper("b", 1.5)])

    async def both_running() -> bool:
        return set((await statuses(admin, job.execution_id)).values()) <= {"CLAIMED", "RUNNING"}

    await wait_until(both_running, what="both commands to run")
    assert await worker_status(admin, worker.worker_id) == "ready"
    assert await asyncio.to_thread(worker.terminate) == 0
    assert (await admin.job(job.execution_id)).status is JobStatus.COMPLETED
    assert await completions(admin, job.execution_id) == {"a": 1, "b": 1}
    assert await worker_status(admin, worker.worker_id) == "offline"
    assert "drain requested" in worker.log()


@pytest.mark.parametrize("standin_settings", [{"claim_lease_seconds": 1, "worker_heartbeat_stale_seconds": 1}])
async def test_a_command_that_outlives_the_drain_deadline_is_naked_and_finished_elsewhere(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    first = workers(WORKER_DRAIN_DEADLINE="0.5")
    job = await admin.submit_job([sleeper("long", 4)])

    async def running() -> bool:
        return (await statuses(admin, job.execution_id))["long"] in ("CLAIMED", "RUNNING")

    await wait_until(running, what="the command to run")
    assert await asyncio.to_thread(first.terminate, 10) == 0
    assert "drain ended with 1 command(s) running; naking them" in first.log()
    second = workers()
    done = await admin.wait_job(job.execution_id, timeout=30)
    assert done.status is JobStatus.COMPLETED
    assert await completions(admin, job.execution_id) == {"long": 1}
    (completed,) = await admin.events(job.execution_id, name="command.completed")
    assert completed["worker_id"] == second.worker_id


@pytest.mark.parametrize("standin_settings", [{"claim_lease_seconds": 1, "worker_heartbeat_stale_seconds": 1}])
async def test_a_killed_worker_s_command_is_redelivered_and_completed_by_another_after_the_lease(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    doomed = workers(NATS_ACK_WAIT="3")
    job = await admin.submit_job([sleeper("victim", 3)])

    async def running() -> bool:
        return (await statuses(admin, job.execution_id))["victim"] in ("CLAIMED", "RUNNING")

    await wait_until(running, what="the command to run")
    doomed.kill()
    survivor = workers(NATS_ACK_WAIT="3")
    done = await admin.wait_job(job.execution_id, timeout=40)
    assert done.status is JobStatus.COMPLETED
    (completed,) = await admin.events(job.execution_id, name="command.completed")
    assert completed["worker_id"] == survivor.worker_id
    assert (await admin.counters())["claims"] == {"claimed": 1, "reclaimed": 1}


async def test_a_503_storm_slows_the_pool_down_but_loses_and_repeats_nothing(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    worker = workers(WORKER_MAX_CONCURRENT="4")
    await admin.inject_faults(saturation_ratio=0.5, saturation_retry_after=0.2, seed=7)
    job = await admin.submit_job(noop_job(20))
    done = await admin.wait_job(job.execution_id, timeout=90)
    await admin.clear_faults()
    assert done.status is JobStatus.COMPLETED
    assert await completions(admin, job.execution_id) == {f"step{i}": 1 for i in range(20)}
    assert worker.metric("noetl_worker_messages_naked_total", reason="claim_unavailable") > 0
    assert worker.metric("noetl_worker_event_emit_retries_total", event_type="event batch") > 0
    assert worker.terminate() == 0


async def test_a_control_plane_outage_mid_run_loses_and_repeats_nothing(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    worker = workers()
    chain = [sleeper("s0", 0.2)] + [sleeper(f"s{i}", 0.2, [f"s{i - 1}"]) for i in range(1, 8)]
    job = await admin.submit_job(chain)

    async def two_done() -> bool:
        return sum(1 for s in (await statuses(admin, job.execution_id)).values() if s == "COMPLETED") >= 2

    await wait_until(two_done, what="the chain to get going")
    await admin.inject_faults(outage_seconds=4, outage_retry_after=0.5)
    await asyncio.sleep(4.5)
    assert worker.process.poll() is None
    done = await admin.wait_job(job.execution_id, timeout=60)
    assert done.status is JobStatus.COMPLETED
    assert await completions(admin, job.execution_id) == {f"s{i}": 1 for i in range(8)}
    assert (await admin.counters())["claims"].get("claimed") == 8
    assert worker.terminate() == 0


async def test_a_nats_restart_mid_run_neither_ends_the_worker_nor_loses_commands(
    private_nats_server: NatsServer, tmp_path: Path, names: dict[str, str]
) -> None:
    with running_standin(
        nats_url=private_nats_server.url, nats_stream=names["NATS_STREAM"], nats_subject=names["NATS_SUBJECT"],
        republish_delay_seconds=2,
    ) as standin, running_worker(tmp_path, private_nats_server.url, standin.url, **names) as worker:  # fmt: skip
        async with StandinAdmin(standin.url) as admin:
            chain = [sleeper("s0", 0.1)] + [sleeper(f"s{i}", 0.1, [f"s{i - 1}"]) for i in range(1, 10)]
            job = await admin.submit_job(chain)

            async def some_done() -> bool:
                return sum(1 for s in (await statuses(admin, job.execution_id)).values() if s == "COMPLETED") >= 3

            await wait_until(some_done, what="the chain to get going")
            await asyncio.to_thread(private_nats_server.restart, down_for=1.0)
            done = await admin.wait_job(job.execution_id, timeout=60)
            assert done.status is JobStatus.COMPLETED
            assert await completions(admin, job.execution_id) == {f"s{i}": 1 for i in range(10)}
            assert worker.process.poll() is None
            await wait_until(lambda: worker.get("/readyz")[0] == 200, what="readiness after the restart")
            assert "NATS reconnected" in worker.log()


async def test_readiness_says_why_the_worker_cannot_take_work(
    workers: Callable[..., WorkerProcess], tmp_path: Path, names: dict[str, str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    worker = workers(ready=False, NOETL_SERVER_URL=dead)

    def not_registered() -> bool:
        status, body = worker.get("/readyz")
        return status == 503 and "not_registered" in json.loads(body)["reasons"]

    await wait_until(not_registered, what="/readyz to report not_registered")
    assert worker.get("/healthz") == (200, "ok")
    assert worker.process.poll() is None  # waiting for the control plane, not crashing
    assert "register: control plane unreachable" in worker.log()
    assert worker.terminate() == 0


async def test_in_progress_keeps_a_command_longer_than_ack_wait_from_being_redelivered(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess], nats_server: NatsServer, names: dict[str, str]
) -> None:
    worker = workers(NATS_ACK_WAIT="1.5")
    job = await admin.submit_job([sleeper("long", 4)])
    assert (await admin.wait_job(job.execution_id, timeout=20)).status is JobStatus.COMPLETED
    nc = await nats.connect(nats_server.url)
    info = await nc.jetstream().consumer_info(names["NATS_STREAM"], names["NATS_CONSUMER"])
    await nc.close()
    assert info.config.ack_wait == 1.5
    assert info.num_redelivered == 0
    assert worker.metric("noetl_worker_messages_acked_total", reason="duplicate_running") == 0


async def test_a_taken_metrics_port_is_a_clear_startup_error(workers: Callable[..., WorkerProcess]) -> None:
    first = workers()
    second = workers(ready=False, WORKER_METRICS_BIND=f"127.0.0.1:{first.metrics_port}")
    assert await asyncio.to_thread(second.process.wait, 20) == 1
    assert f"WORKER_METRICS_BIND=127.0.0.1:{first.metrics_port}" in second.log()
    assert "Traceback" not in second.log()
    assert first.terminate() == 0


async def test_a_second_signal_ends_the_drain_at_once(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    worker = workers(WORKER_DRAIN_DEADLINE="60")
    job = await admin.submit_job([sleeper("long", 30)])

    async def running() -> bool:
        return (await statuses(admin, job.execution_id))["long"] in ("CLAIMED", "RUNNING")

    await wait_until(running, what="the command to run")
    worker.process.send_signal(signal.SIGTERM)
    await wait_until(lambda: "drain requested" in worker.log(), what="the drain to begin")
    worker.process.send_signal(signal.SIGTERM)  # a duplicate of the same request (as wrappers forward): ignored
    await asyncio.sleep(1.2)
    assert "second stop request" not in worker.log()
    worker.process.send_signal(signal.SIGINT)
    assert await asyncio.to_thread(worker.process.wait, 15) == 0
    assert "second stop request" in worker.log()
    assert "naking them" in worker.log()


async def test_a_saturated_worker_stays_ready_and_reports_its_slots_as_gauges(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    worker = workers(WORKER_MAX_CONCURRENT="2")
    assert worker.metric("noetl_worker_slots_total") == 2
    assert worker.metric("noetl_worker_slots_busy") == 0
    job = await admin.submit_job([sleeper("a", 3), sleeper("b", 3), sleeper("c", 0.1)])

    async def saturated() -> bool:
        return worker.metric("noetl_worker_slots_busy") == 2

    await wait_until(saturated, what="both slots busy")
    status, body = worker.get("/readyz")
    assert (status, json.loads(body)) == (200, {"ready": True, "reasons": []})
    assert (await admin.wait_job(job.execution_id, timeout=30)).status is JobStatus.COMPLETED
    await wait_until(lambda: worker.metric("noetl_worker_slots_busy") == 0, what="the slots to free up")


async def test_a_worker_started_before_nats_backs_off_naming_the_server_and_goes_on_once_it_is_up(
    tmp_path: Path, standin: Any, names: dict[str, str]
) -> None:
    port = free_port()
    worker = start_worker(tmp_path, f"nats://127.0.0.1:{port}", standin.url, **names)
    try:

        def attempts() -> list[str]:
            return [r["msg"] for r in worker.log_records() if "cannot connect" in r["msg"]]

        await wait_until(lambda: len(attempts()) >= 3, what="three connection attempts")
        logged = attempts()
        assert all(m.startswith(f"nats: cannot connect to 127.0.0.1:{port}: ") for m in logged), logged
        # 0.5 s doubling (capped), not one error a second from nats-py's own loop.
        delays = [float(m.rsplit("retrying in ", 1)[1].rstrip("s")) for m in logged]
        assert delays[:3] == [0.5, 1.0, 2.0], logged
        assert "NATS connection error" not in worker.log()
        with running_nats_server(port=port):
            await asyncio.to_thread(worker.wait_ready, 30)
            assert "connected to NATS at 127.0.0.1:" in worker.log()
            assert await asyncio.to_thread(worker.terminate) == 0
    finally:
        if worker.process.poll() is None:
            worker.kill()


async def test_a_failed_python_step_stores_the_user_s_traceback_once_and_no_runner_internals(
    admin: StandinAdmin, workers: Callable[..., WorkerProcess]
) -> None:
    workers()
    code = "def parse(row):\n    return int(row)\n\nparse('x1')\n"
    job = await admin.submit_job([{"name": "boom", "kind": "python", "tool_config": {"code": code}}])
    done = await admin.wait_job(job.execution_id, timeout=30)
    assert done.status is not JobStatus.COMPLETED
    stored = json.dumps(await admin.events(job.execution_id))
    assert stored.count("Traceback (most recent call last)") == 1, stored
    assert "in parse" in stored
    assert "ValueError: invalid literal for int() with base 10: 'x1'" in stored
    assert "_python_runner" not in stored
