"""The worker process end to end: real nats-server, the stand-in over HTTP, the worker as a subprocess."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus

from tests.worker.workerproc import WorkerProcess

pytestmark = pytest.mark.integration


def noop_job(n: int) -> list[dict[str, Any]]:
    return [{"name": f"step{i}", "kind": "noop", "tool_config": {"result": {"i": i}}} for i in range(n)]


async def test_many_commands_complete_exactly_once(admin: StandinAdmin, workers: Callable[..., WorkerProcess]) -> None:
    worker = workers(WORKER_MAX_CONCURRENT="8")
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
    assert worker.terminate() == 0
