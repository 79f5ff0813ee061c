"""The worker benchmark's scenarios: which commands, how many slots and processes, preloaded or paced.

- ``noop``: a preloaded backlog of ``noop`` commands, one process, 32 slots — the throughput ceiling.
- ``latency``: ``noop`` commands published at a light, fixed rate to a ready, idle process — publish → claim.
- ``sleep``: ``http`` to the peer's ``/sleep`` (a 100 ms I/O wait), 8 slots — can the slots be kept busy?
- ``duckdb``: a small in-memory duckdb query, 8 slots — blocking work off the event loop.
- ``result``: ``http`` returning 1 MiB, 8 slots — the reference path (``PUT /api/result``).
- ``python``: ``python`` steps that return at once (``result = {"ok": True}``), 8 slots — the tool's own cost
  per command (a fork of the warm runner); the bare loop runs no process, so the fork cost is measured apart.
- ``two-process``: the ``noop`` backlog with two processes on one consumer — horizontal scaling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bench.settings import ScenarioName, WorkerBenchSettings

__all__ = ["Scenario", "build_scenarios"]


@dataclass(frozen=True)
class Scenario:
    name: ScenarioName
    kind: str
    commands: int
    slots: int
    processes: int = 1
    mode: Literal["preload", "paced"] = "preload"
    rate: float | None = None
    tool_config: dict[str, Any] = field(default_factory=dict)
    ideal_commands_per_s: float | None = None


def build_scenarios(settings: WorkerBenchSettings, peer_url: str) -> list[Scenario]:
    """The selected scenarios, in the order ``settings.scenarios`` lists them."""
    catalog: dict[ScenarioName, Scenario] = {
        "noop": Scenario("noop", "noop", settings.noop_commands, settings.slots),
        "latency": Scenario(
            "latency",
            "noop",
            settings.latency_commands,
            settings.slots,
            mode="paced",
            rate=settings.latency_rate,
        ),
        "sleep": Scenario(
            "sleep",
            "http",
            settings.sleep_commands,
            settings.sleep_slots,
            tool_config={"method": "GET", "url": f"{peer_url}/sleep?ms={settings.sleep_ms}"},
            ideal_commands_per_s=settings.sleep_slots * 1000 / settings.sleep_ms,
        ),
        "duckdb": Scenario(
            "duckdb",
            "duckdb",
            settings.duckdb_commands,
            settings.duckdb_slots,
            tool_config={"query": settings.duckdb_query},
        ),
        "result": Scenario(
            "result",
            "http",
            settings.result_commands,
            settings.result_slots,
            tool_config={
                "method": "GET",
                "url": f"{peer_url}/blob?bytes={settings.result_bytes}",
                "response_type": "text",
            },
        ),
        "python": Scenario(
            "python",
            "python",
            settings.python_commands,
            settings.python_slots,
            tool_config={"code": "result = {'ok': True}"},
        ),
        "two-process": Scenario("two-process", "noop", settings.noop_commands, settings.slots, processes=2),
    }
    return [catalog[name] for name in settings.scenarios]
