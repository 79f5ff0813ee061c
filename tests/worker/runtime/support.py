"""Polling helpers for the runtime tests (the stand-in is observed over HTTP, so tests wait for states)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from noetl_standin.admin import StandinAdmin

__all__ = ["completions", "statuses", "wait_until", "worker_status"]


async def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` (sync or async) until truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def statuses(admin: StandinAdmin, execution_id: int) -> dict[str, str | None]:
    """Command status per step name."""
    return {name: c.command_status for name, c in (await admin.job(execution_id)).commands.items()}


async def completions(admin: StandinAdmin, execution_id: int) -> dict[str, int]:
    """How many ``command.completed`` events each step got (exactly once is the goal)."""
    per_step: dict[str, int] = {}
    for event in await admin.events(execution_id, name="command.completed"):
        per_step[event["node_name"]] = per_step.get(event["node_name"], 0) + 1
    return per_step


async def worker_status(admin: StandinAdmin, worker_id: str) -> str | None:
    return next((w["status"] for w in await admin.workers() if w["name"] == worker_id), None)
