"""A small engine that drives jobs the way the NoETL engine drives playbooks, at the wire.

Submitting a job writes ``playbook.initialized``/``workflow.initialized`` and issues every command
without dependencies. The engine then runs on actionable events (``call.done``, ``call.error``,
``step.exit``, ``command.failed``), exactly where the server runs its own: ``call.done`` issues the
commands whose dependencies are all done; ``call.error`` (or a FAILED ``step.exit``/``command.failed``)
fails the job; when every command is done the job completes with ``workflow.completed`` and
``playbook.completed``. Only the first ``call.done``/``call.error`` per command is orchestrated, so
duplicates from retries change nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from noetl_wire.events import event_status

from noetl_standin.externalize import externalize_context
from noetl_standin.jobs import JobCommandSpec, JobCommandView, JobSpec, JobStatus, JobView
from noetl_standin.publisher import Publisher, pool_for
from noetl_standin.records import CommandRecord, EventRecord
from noetl_standin.store import Store

__all__ = ["Engine", "JobNotFoundError"]


class JobNotFoundError(LookupError):
    """No job with that execution id."""


@dataclass(slots=True)
class _Job:
    execution_id: int
    catalog_id: int
    spec: JobSpec
    status: JobStatus = JobStatus.RUNNING
    error: str | None = None
    issued: dict[str, CommandRecord] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    results: dict[str, Any] = field(default_factory=dict)
    handled_commands: set[int | str] = field(default_factory=set)
    # Dependency bookkeeping so each call.done costs O(its dependents), not O(job size).
    unmet: dict[str, int] = field(default_factory=dict)
    dependents: dict[str, list[str]] = field(default_factory=dict)
    specs: dict[str, JobCommandSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.spec.commands:
            self.specs[spec.name] = spec
            self.unmet[spec.name] = len(set(spec.after))
            for parent in set(spec.after):
                self.dependents.setdefault(parent, []).append(spec.name)


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def _step_result(payload: Mapping[str, Any]) -> Any:
    # The server reads the step result from payload.response, else payload.result, else the payload.
    if "response" in payload:
        return payload["response"]
    result = payload.get("result")
    if isinstance(result, Mapping):
        return result.get("context", result)
    return dict(payload)


class Engine:
    """Holds jobs in memory and reacts to actionable events; ``server_url`` is read lazily (port 0)."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        server_url: Callable[[], str],
        *,
        externalize_above: int | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._server_url = server_url
        self._externalize_above = externalize_above
        self._jobs: dict[int, _Job] = {}

    # -- submission ------------------------------------------------------------------------------------
    async def submit(self, spec: JobSpec) -> JobView:
        now = time.time()
        job = _Job(execution_id=self._store.new_id(), catalog_id=self._store.new_id(), spec=spec)
        self._jobs[job.execution_id] = job
        init = {"workload": spec.workload, "playbook_path": spec.path}
        await self._server_events(
            job, [("playbook.initialized", spec.path), ("workflow.initialized", "workflow")], now, payload=init
        )
        roots = [spec.name for spec in spec.commands if not spec.after]
        await self._issue_all(job, roots, triggered_by=None, trigger_step=None)
        return self.view(job.execution_id)

    def view(self, execution_id: int) -> JobView:
        job = self._jobs.get(execution_id)
        if job is None:
            raise JobNotFoundError(execution_id)
        commands: dict[str, JobCommandView] = {}
        for spec in job.spec.commands:
            record = job.issued.get(spec.name)
            state = (
                "done"
                if spec.name in job.done
                else "error"
                if spec.name in job.failed
                else "issued"
                if record
                else "waiting"
            )
            commands[spec.name] = JobCommandView(
                name=spec.name,
                state=state,
                command_id=record.command_id if record else None,
                event_id=record.event_id if record else None,
                command_status=record.status.value if record else None,
            )
        return JobView(
            execution_id=job.execution_id, status=job.status, error=job.error, commands=commands, results=job.results
        )

    def jobs(self) -> list[JobView]:
        return [self.view(execution_id) for execution_id in self._jobs]

    # -- reacting to events ----------------------------------------------------------------------------
    async def on_event(self, event: EventRecord) -> int:
        """Run the engine for one actionable event; return how many commands were issued."""
        job = self._jobs.get(event.execution_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return 0
        step = event.node_name.removesuffix(":task_sequence")
        name = event.event_type
        if name in ("call.done", "call.error"):
            if event.command_id is None or event.command_id in job.handled_commands:
                return 0
            record = job.issued.get(step)
            if record is None or record.command_id != event.command_id:
                return 0
            job.handled_commands.add(event.command_id)
            if name == "call.error":
                job.failed.add(step)
                await self._fail(job, f"step {step!r} failed: {event.error or 'call.error'}")
                return 0
            job.done.add(step)
            job.results[step] = _step_result(event.payload)
            ready = []
            for child in job.dependents.get(step, ()):
                job.unmet[child] -= 1
                if job.unmet[child] == 0:
                    ready.append(child)
            issued = await self._issue_all(job, ready, triggered_by=name, trigger_step=step)
            if len(job.done) == len(job.spec.commands):
                await self._complete(job)
            return issued
        if name == "step.exit" and str(event.payload.get("status", "")).upper() == "FAILED":
            job.failed.add(step)
            await self._fail(job, f"step {step!r} exited FAILED")
        elif name == "command.failed":
            job.failed.add(step)
            await self._fail(job, f"command of step {step!r} failed: {event.error or 'command.failed'}")
        return 0

    async def _issue_all(
        self, job: _Job, names: list[str], *, triggered_by: str | None, trigger_step: str | None
    ) -> int:
        for name in names:
            record = await self._issue(job, job.specs[name], triggered_by=triggered_by, trigger_step=trigger_step)
            await self._publisher.publish(record, self._server_url())
        return len(names)

    async def _issue(
        self, job: _Job, spec: JobCommandSpec, *, triggered_by: str | None, trigger_step: str | None
    ) -> CommandRecord:
        now = time.time()
        command_id = self._store.new_id()
        event_id = self._store.new_id()
        execution = str(job.execution_id)
        render_context: dict[str, Any] = {
            "workload": {**job.spec.workload, **job.results},
            "ctx": {**job.spec.workload, **job.results},
            "iter": {},
            "event": {"name": "command_creation", "step": spec.name, "payload": {}},
            "job": {"id": execution, "uuid": execution, "execution_id": execution},
            "execution_id": execution,
            "catalog_id": str(job.catalog_id),
            **job.spec.workload,
            **job.results,
            **spec.render_context,
        }
        context = {
            "tool_config": spec.tool_config,
            "input": spec.input,
            "render_context": render_context,
            "spec": {"next_mode": "exclusive"},
        }
        meta: dict[str, Any] = {"command_id": command_id, "step": spec.name, "tool_kind": spec.kind, "actionable": True}
        if triggered_by is None:
            meta.update(attempt=1, max_attempts=3, execution_id=execution, catalog_id=str(job.catalog_id))
        else:
            meta.update(triggered_by=triggered_by, trigger_step=trigger_step)
        meta.update(spec.meta)
        if self._externalize_above is not None:
            context, stored = externalize_context(
                context,
                execution_id=job.execution_id,
                command_id=command_id,
                step=spec.name,
                threshold=self._externalize_above,
                new_id=self._store.new_id,
                encode=_encode,
                now=now,
            )
            for result in stored:
                await self._store.put_result(result)
        record = CommandRecord(
            command_id=command_id,
            event_id=event_id,
            execution_id=job.execution_id,
            catalog_id=job.catalog_id,
            step=spec.name,
            tool_kind=spec.kind,
            context=context,
            meta=meta,
            created_at=now,
            pool=pool_for(spec.kind, job.spec.path),
        )
        issued = EventRecord(
            event_id=event_id,
            execution_id=job.execution_id,
            event_type="command.issued",
            node_name=spec.name,
            status="PENDING",
            created_at=now,
            payload=context,
            meta=meta,
            command_id=command_id,
        )
        await self._store.issue_command(record, issued)
        job.issued[spec.name] = record
        return record

    async def _complete(self, job: _Job) -> None:
        # Concurrent single-endpoint events can both see the last step done; only the first one reports.
        if job.status is not JobStatus.RUNNING:
            return
        job.status = JobStatus.COMPLETED
        await self._server_events(
            job,
            [("workflow.completed", "workflow"), ("playbook.completed", job.spec.path)],
            time.time(),
            payload={"status": "COMPLETED"},
        )

    async def _fail(self, job: _Job, reason: str) -> None:
        if job.status is not JobStatus.RUNNING:
            return
        job.status = JobStatus.FAILED
        job.error = reason
        await self._server_events(
            job,
            [("workflow.failed", "workflow"), ("playbook.failed", job.spec.path)],
            time.time(),
            payload={"status": "FAILED", "error": reason},
        )

    async def _server_events(
        self, job: _Job, names: list[tuple[str, str]], now: float, *, payload: dict[str, Any]
    ) -> None:
        events = [
            EventRecord(
                event_id=self._store.new_id(),
                execution_id=job.execution_id,
                event_type=name,
                node_name=node,
                status=event_status(name) if "initialized" not in name else "initialized",
                created_at=now,
                payload=payload,
                error=payload.get("error"),
            )
            for name, node in names
        ]
        await self._store.append_events(events, now=now)
