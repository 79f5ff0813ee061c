"""Job specifications for the stand-in's engine (the ``/_standin/jobs`` API and its admin client).

A job is a list of commands with dependencies: a command is issued once every command named in its
``after`` has a ``call.done``. This replaces the NoETL DSL engine with something a test can script.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["JobCommandSpec", "JobCommandView", "JobSpec", "JobStatus", "JobView"]

_NAME_PATTERN = r"^[A-Za-z0-9_.:-]+$"


class JobCommandSpec(BaseModel):
    """One command of a job. ``name`` is the step name workers see (``node_name``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=_NAME_PATTERN)
    kind: str = Field(min_length=1, description="Tool kind, sent as `action` and `meta.tool_kind`.")
    tool_config: dict[str, Any] | list[Any] = Field(default_factory=dict)
    input: dict[str, Any] = Field(default_factory=dict)
    after: list[str] = Field(default_factory=list, description="Names that must have `call.done` first.")
    meta: dict[str, Any] = Field(default_factory=dict, description="Extra `meta` keys (e.g. loop bookkeeping).")
    render_context: dict[str, Any] = Field(default_factory=dict, description="Extra `render_context` keys.")


class JobSpec(BaseModel):
    """A job: commands (at least one), an optional workload and an optional playbook path (for pool routing)."""

    model_config = ConfigDict(extra="forbid")

    commands: list[JobCommandSpec] = Field(min_length=1)
    workload: dict[str, Any] = Field(default_factory=dict)
    path: str = "standin/job"

    @model_validator(mode="after")
    def _check_graph(self) -> JobSpec:
        names = [c.name for c in self.commands]
        duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
        if duplicates:
            raise ValueError(f"command names must be unique, duplicated: {duplicates}")
        known = set(names)
        for command in self.commands:
            unknown = sorted(set(command.after) - known)
            if unknown:
                raise ValueError(f"command {command.name!r} depends on unknown commands {unknown}")
            if command.name in command.after:
                raise ValueError(f"command {command.name!r} depends on itself")
        _check_acyclic({c.name: c.after for c in self.commands})
        return self


def _check_acyclic(graph: dict[str, list[str]]) -> None:
    """Depth-first search without recursion, so a chain of thousands of commands is fine."""
    done: set[str] = set()
    for root, parents in graph.items():
        if root in done:
            continue
        trail: list[str] = [root]
        on_trail = {root}
        pending: list[list[str]] = [list(parents)]
        while trail:
            if not pending[-1]:
                node = trail.pop()
                on_trail.discard(node)
                done.add(node)
                pending.pop()
                continue
            parent = pending[-1].pop()
            if parent in on_trail:
                cycle = [*trail[trail.index(parent) :], parent]
                raise ValueError(f"commands form a dependency cycle: {' waits for '.join(cycle)}")
            if parent not in done:
                trail.append(parent)
                on_trail.add(parent)
                pending.append(list(graph[parent]))


class JobStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobCommandView(BaseModel):
    name: str
    state: str = Field(description="waiting | issued | done | error")
    command_id: int | None = None
    event_id: int | None = None
    command_status: str | None = None


class JobView(BaseModel):
    """A job's progress as ``/_standin/jobs/{execution_id}`` reports it."""

    execution_id: int
    status: JobStatus
    error: str | None = None
    commands: dict[str, JobCommandView]
    results: dict[str, Any] = Field(default_factory=dict)
