"""The control plane of a benchmark, in its own process: the fast responder or the stand-in.

Two implementations with one interface (:class:`ControlPlane` and :class:`FastControlPlane`): submit
commands, count finished ones, read request counters and per-command claim/completion times.

- ``fast`` (the default, ``bench.fastplane``): the protocol and nothing else, answering in tens of
  microseconds of CPU, as a production server behind a connection pool does — so the worker, not the
  server, is what a throughput figure measures.
- ``standin`` (``noetl_standin``): contract-faithful (engine, event log, validation); slower per request.

Both run HTTP-only (no NATS URL): the harness publishes the pointers itself (``bench.pointers``); the
stand-in's re-publication and reaper are off, so every delivery a worker sees is one the harness sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobCommandSpec, JobSpec
from noetl_standin.natsserver import free_port

from bench.pointers import Pointer
from bench.procs import BenchError, SupervisedProcess

__all__ = ["COMMANDS_PER_JOB", "CommandTimes", "ControlPlane", "FastControlPlane", "api_requests", "control_plane"]

# Commands are spread over many small jobs (executions), as real load is; one huge job would also make the
# stand-in's engine rescan a long command list on every call.done.
COMMANDS_PER_JOB = 20


class CommandTimes:
    """When the control plane saw each command claimed and completed (its clock: ``time.time()``)."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.claimed: dict[int, float] = {}
        self.completed: dict[int, float] = {}
        self.status: Counter[str] = Counter()
        for row in rows:
            event_id = int(row["event_id"])
            self.status[str(row["status"])] += 1
            if row.get("claimed_at"):
                self.claimed[event_id] = _seconds(row["claimed_at"])
            if row.get("completed_at") and row["status"] == "COMPLETED":
                self.completed[event_id] = _seconds(row["completed_at"])


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def api_requests(counters: dict[str, dict[str, int]]) -> Counter[str]:
    """Requests to the NoETL API only (not the harness's own ``/_standin`` read-outs or health probes)."""
    return Counter({route: n for route, n in counters.get("requests", {}).items() if " /api/" in route})


class ControlPlane:
    """Start the stand-in, submit commands, read the event log and counters; stop it on exit."""

    kind = "standin"

    def __init__(self, log_dir: Path, sample_interval: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = SupervisedProcess(
            "stand-in",
            [sys.executable, "-m", "noetl_standin.cli", "--host", "127.0.0.1", "--port", str(self.port)],
            _standin_env(),
            log_dir / "standin.log",
            sample_interval,
        )
        self.admin = StandinAdmin(self.url, timeout=60.0)

    async def __aenter__(self) -> ControlPlane:
        self.process.start()
        deadline = time.monotonic() + 30
        while not await self.admin.health():
            self.process.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"stand-in not healthy after 30 s: {self.process.log_tail()}")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.admin.aclose()
        await asyncio.to_thread(self.process.stop)

    async def submit(self, kind: str, tool_config: dict[str, Any], count: int, *, prefix: str) -> list[Pointer]:
        """Issue ``count`` independent commands of one kind; returns their pointers in issue order."""
        pointers: list[Pointer] = []
        for start in range(0, count, COMMANDS_PER_JOB):
            size = min(COMMANDS_PER_JOB, count - start)
            spec = JobSpec(
                commands=[
                    JobCommandSpec(name=f"{prefix}{start + i:06d}", kind=kind, tool_config=tool_config)
                    for i in range(size)
                ],
                path=f"bench/{prefix}",
            )
            view = await self.admin.submit_job(spec)
            for name, command in sorted(view.commands.items()):
                if command.event_id is None or command.command_id is None:
                    raise BenchError(f"stand-in did not issue command {name} of job {view.execution_id}")
                pointers.append(Pointer(view.execution_id, command.event_id, command.command_id, name))
        return pointers

    async def finished(self) -> int:
        """Commands that reached a terminal event so far (``command.completed`` + ``command.failed``)."""
        events = (await self.admin.counters()).get("events", {})
        return int(events.get("command.completed", 0)) + int(events.get("command.failed", 0))

    async def counters(self) -> dict[str, dict[str, int]]:
        return await self.admin.counters()

    async def times(self, execution_ids: Sequence[int]) -> CommandTimes:
        rows: list[dict[str, Any]] = []
        for execution_id in sorted(set(execution_ids)):
            rows += await self.admin.commands(execution_id)
        return CommandTimes(rows)


def _standin_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOETL_STANDIN_")}
    env.update(
        NOETL_STANDIN_REPUBLISH_DELAY_SECONDS="0",
        NOETL_STANDIN_REAPER_INTERVAL_SECONDS="0",
        NOETL_STANDIN_LOG_LEVEL="warning",
    )
    return env


class FastControlPlane:
    """``bench.fastplane`` in its own process, with the same interface as :class:`ControlPlane`."""

    kind = "fast"

    def __init__(self, log_dir: Path, sample_interval: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = SupervisedProcess(
            "fast control plane",
            [sys.executable, "-m", "bench.fastplane", "--host", "127.0.0.1", "--port", str(self.port)],
            dict(os.environ),
            log_dir / "fastplane.log",
            sample_interval,
        )
        self._http = httpx.AsyncClient(base_url=self.url, timeout=60.0)

    async def __aenter__(self) -> FastControlPlane:
        self.process.start()
        deadline = time.monotonic() + 30
        while True:
            self.process.check_alive()
            with contextlib.suppress(httpx.TransportError):
                if (await self._http.get("/api/health")).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise BenchError(f"fast control plane not answering after 30 s: {self.process.log_tail()}")
            await asyncio.sleep(0.05)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()
        await asyncio.to_thread(self.process.stop)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self._http.request(method, path, json=body)
        if response.status_code != 200:
            raise BenchError(f"fast control plane: {method} {path}: HTTP {response.status_code}: {response.text}")
        return response.json()

    async def submit(self, kind: str, tool_config: dict[str, Any], count: int, *, prefix: str) -> list[Pointer]:
        rows = await self._call(
            "POST", "/_fast/commands", {"kind": kind, "tool_config": tool_config, "count": count, "prefix": prefix}
        )
        return [Pointer(int(e), int(v), int(c), str(s)) for e, v, c, s in rows]

    async def finished(self) -> int:
        events = (await self.counters()).get("events", {})
        return int(events.get("command.completed", 0)) + int(events.get("command.failed", 0))

    async def counters(self) -> dict[str, dict[str, int]]:
        counters: dict[str, dict[str, int]] = await self._call("GET", "/_fast/counters")
        return counters

    async def times(self, execution_ids: Sequence[int]) -> CommandTimes:
        return CommandTimes(await self._call("POST", "/_fast/times", {"execution_ids": sorted(set(execution_ids))}))


ControlPlaneKind = Literal["fast", "standin"]


def control_plane(kind: ControlPlaneKind, log_dir: Path, sample_interval: float) -> ControlPlane | FastControlPlane:
    """The control plane a run uses (``--control-plane``)."""
    if kind == "fast":
        return FastControlPlane(log_dir, sample_interval)
    return ControlPlane(log_dir, sample_interval)
