"""Run one claimed command end to end: started batch → tool → cases → terminal batch.

Every path ends in a terminal batch: a bad config, an unknown credential alias, an unknown tool kind, a
tool exception, a timeout or a failing case all become ``call.error`` + ``command.failed`` with a reason,
never a silent stall. Everything emitted is scrubbed with the keychain values and the secrets resolved
for this command. The terminal batch is retried until the outcome-hold deadline; the caller acks the NATS
message only when :attr:`ExecutionOutcome.delivered` is true.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from noetl_wire.commands import ClaimedCommand

from noetl_worker.control_plane.client import ControlPlaneClient, ControlPlaneError, EncodedJSON
from noetl_worker.executor.cases import evaluate_cases
from noetl_worker.executor.command import CommandIdentity, PreparedCommand, identity_of, prepare_command
from noetl_worker.executor.lifecycle import failure_batch, started_batch, success_batch
from noetl_worker.executor.results import ShapedResult, encode_json, is_bulky, shape_result
from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.log import CommandLogger, command_logger
from noetl_worker.runtime.metrics import WorkerMetrics
from noetl_worker.scrub import Scrubber
from noetl_worker.tools.auth import resolve_auth
from noetl_worker.tools.base import ToolContext, ToolRegistry, ToolResult, ToolStatus

__all__ = ["CommandExecutor", "ExecutionOutcome"]

log = logging.getLogger("noetl_worker.executor")

# The first batch only marks the command as running; it must not hold up the tool for long.
_STARTED_BATCH_BUDGET = 10.0


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    """What happened: ``failed`` (the command's own outcome) and ``delivered`` (the server has it)."""

    delivered: bool
    failed: bool
    error: str | None = None


@dataclass(slots=True)
class _Verdict:
    ok: bool
    data: JSONValue
    error: str | None = None
    exit_status: str = "COMPLETED"
    table: Any = None


class CommandExecutor:
    """Stateless across commands; one instance per worker process."""

    def __init__(
        self,
        *,
        client: ControlPlaneClient,
        registry: ToolRegistry,
        metrics: WorkerMetrics,
        worker_id: str,
        keychain: Mapping[str, str],
        scrubber: Scrubber,
        command_timeout: float,
        outcome_hold: float,
    ) -> None:
        self.client = client
        self.registry = registry
        self.metrics = metrics
        self.worker_id = worker_id
        self.keychain = dict(keychain)
        self.scrubber = scrubber
        self.command_timeout = command_timeout
        self.outcome_hold = outcome_hold

    async def execute(self, command: ClaimedCommand, server_url: str) -> ExecutionOutcome:
        ident = identity_of(command, self.worker_id)
        scrubber = self.scrubber
        clog = command_logger(
            log, execution_id=ident.execution_id, command_id=ident.command_id, step=ident.step, scrubber=scrubber
        )
        tool_deadline = time.monotonic() + self.command_timeout
        # The first batch only marks the command as running: send it while the tool runs (one round trip
        # off the critical path), and wait for it before the outcome so the server sees them in order.
        reporting = asyncio.get_running_loop().create_task(self._report_started(ident, server_url, clog))
        started = time.perf_counter()
        try:
            verdict, scrubber, clog = await self._run(command, ident, server_url, tool_deadline, clog)
            self.metrics.labelled(self.metrics.dispatch_duration, ident.kind).observe(time.perf_counter() - started)
            await reporting
        finally:
            reporting.cancel()
        if not verdict.ok:
            self.metrics.dispatch_errors.labels(tool_kind=ident.kind).inc()

        data, encoded = await _scrub_and_encode(scrubber, verdict.data)

        async def store(value: JSONValue, value_json: bytes | None) -> JSONObject:
            body = value if value_json is None else EncodedJSON(value_json)
            return await self.client.put_result(server_url, ident.execution_id, ident.step, body)

        error = scrubber.text(verdict.error) if verdict.error is not None else None
        shaped: ShapedResult
        try:
            status = "COMPLETED" if verdict.ok else "FAILED"
            shaped = await shape_result(data, status, store, table=verdict.table, encoded=encoded)
        except Exception as exc:
            error = scrubber.text(str(exc))
            verdict = _Verdict(False, None, error)
            shaped = await shape_result({"status": "error", "error": error}, "FAILED", store)
        if verdict.ok:
            batch = success_batch(ident, shaped.response, shaped.result, exit_status=verdict.exit_status)
        else:
            assert error is not None
            batch = failure_batch(ident, error, shaped.response, shaped.result)
            clog.warning(f"command failed: {error}", extra={"tool_kind": ident.kind})

        try:
            await self.client.post_batch(
                server_url, ident.execution_id, batch, deadline=time.monotonic() + self.outcome_hold, logger=clog
            )
        except ControlPlaneError as exc:
            clog.error(f"outcome not delivered: {exc}")
            return ExecutionOutcome(delivered=False, failed=not verdict.ok, error=str(exc))
        # DEBUG, not INFO: a line per command is most of a busy worker's log volume and a measurable share of
        # its CPU (docs/performance.md); failures are logged at WARNING above, and counts are in the metrics.
        if log.isEnabledFor(logging.DEBUG):
            clog.debug(
                "command finished", extra={"status": "COMPLETED" if verdict.ok else "FAILED", "tool_kind": ident.kind}
            )
        return ExecutionOutcome(delivered=True, failed=not verdict.ok, error=error)

    async def _report_started(self, ident: CommandIdentity, server_url: str, clog: CommandLogger) -> None:
        try:
            await self.client.post_batch(
                server_url, ident.execution_id, started_batch(ident),
                deadline=time.monotonic() + min(_STARTED_BATCH_BUDGET, self.outcome_hold), logger=clog,
            )  # fmt: skip
        except ControlPlaneError as exc:
            # The terminal batch still carries the outcome; the server accepts it without command.started.
            clog.warning(f"could not report command.started: {exc}")

    async def report_unrunnable(self, ident: CommandIdentity, server_url: str, error: str) -> ExecutionOutcome:
        """Fail a claimed command that cannot even be decoded: ``call.error`` + ``command.failed``."""
        error = self.scrubber.text(error)
        response: JSONObject = {"status": "error", "error": error}
        result: JSONObject = {"status": "FAILED", "context": dict(response)}
        self.metrics.dispatch_errors.labels(tool_kind=ident.kind).inc()
        try:
            await self.client.post_batch(
                server_url, ident.execution_id, failure_batch(ident, error, response, result),
                deadline=time.monotonic() + self.outcome_hold,
            )  # fmt: skip
        except ControlPlaneError as exc:
            return ExecutionOutcome(delivered=False, failed=True, error=str(exc))
        return ExecutionOutcome(delivered=True, failed=True, error=error)

    async def _run(
        self, command: ClaimedCommand, ident: CommandIdentity, server_url: str, deadline: float, clog: CommandLogger
    ) -> tuple[_Verdict, Scrubber, CommandLogger]:
        """Prepare, resolve auth, run the tool under the deadline, apply cases. Never raises."""
        scrubber = self.scrubber
        bound = self.client.bound(server_url)
        prepared: PreparedCommand | None = None
        discovered: list[str] = []  # secrets the tool resolved itself (task_sequence sub-task auth)
        try:
            prepared = await prepare_command(command, bound.resolve_result)
            tool = self.registry.get(prepared.kind)
            auth = await resolve_auth(prepared.config, control_plane=bound, execution_id=ident.execution_id)
            if auth.secrets:
                scrubber = scrubber.with_secrets(auth.secrets.values())
                clog = command_logger(
                    log, execution_id=ident.execution_id, command_id=ident.command_id, step=ident.step,
                    scrubber=scrubber,
                )  # fmt: skip
                clog.info(f"resolved auth alias(es): {', '.join(sorted(auth.secrets))}")
            context = ToolContext(
                execution_id=ident.execution_id,
                step=ident.step,
                command_id=ident.command_id,
                worker_id=self.worker_id,
                server_url=server_url,
                deadline=deadline,
                secrets={**self.keychain, **auth.secrets},
                variables=prepared.variables,
                input=prepared.input,
                control_plane=bound,
                registry=self.registry,
                logger=clog,
                secret_sink=discovered.extend,
            )
            timeout = asyncio.timeout_at(asyncio.get_running_loop().time() + max(0.0, deadline - time.monotonic()))
            try:
                async with timeout:
                    result = await tool.run(auth.config, context)
            except TimeoutError:
                if not timeout.expired():
                    raise
                text = f"Execution timed out after {self.command_timeout:g} seconds"
                return _Verdict(False, {"status": "error", "error": text}, text), _with(scrubber, discovered), clog
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            text = _error_text(exc)
            return _Verdict(False, {"status": "error", "error": text}, text), _with(scrubber, discovered), clog
        return await self._judge(result, prepared, ident, server_url), _with(scrubber, discovered), clog

    async def _judge(
        self, result: ToolResult, prepared: PreparedCommand, ident: CommandIdentity, server_url: str
    ) -> _Verdict:
        if result.status is not ToolStatus.SUCCESS:
            error = result.error or f"tool {ident.kind} returned status {result.status.value}"
            response: JSONObject = {"status": "error", "error": error}
            for key in ("data", "stdout", "stderr", "exit_code"):
                value = getattr(result, key)
                if value is not None:
                    response[key] = value
            return _Verdict(False, response, error)
        if not prepared.cases:
            return _Verdict(True, result.data, table=result.table)
        identity: dict[str, Any] = {
            "execution_id": ident.execution_id, "step": ident.step, "server_url": server_url,
            "worker_id": self.worker_id, "command_id": ident.command_id,
        }  # fmt: skip
        try:
            action = evaluate_cases(prepared.cases, result.data, prepared.variables, identity)
            if action is None or action.kind in ("continue", "goto", "retry"):
                return _Verdict(True, result.data, table=result.table)
            if action.kind == "exit":
                return _Verdict(True, result.data, exit_status=action.status, table=result.table)
            if action.kind == "fail":
                return _Verdict(False, result.data, f"Case evaluation failed: {action.message}")
            # set_var: the only remaining action.
            name = str(action.args["name"])
            await self.client.set_variables(
                server_url, ident.execution_id, {name: action.args.get("value")}, source_step=ident.step,
                deadline=time.monotonic() + 30.0,
            )  # fmt: skip
        except Exception as exc:
            return _Verdict(False, result.data, f"Case evaluation failed: {_error_text(exc)}")
        return _Verdict(True, result.data, table=result.table)


def _with(scrubber: Scrubber, discovered: list[str]) -> Scrubber:
    return scrubber.with_secrets(discovered) if discovered else scrubber


async def _scrub_and_encode(scrubber: Scrubber, data: JSONValue) -> tuple[JSONValue, bytes | None]:
    """Scrub the tool's data. A bulky result is scrubbed and serialised in a thread, so the loop keeps serving,
    and the JSON made there is the one measured against the budget and sent to the result store."""
    if not is_bulky(data):
        return scrubber.value(data), None

    def work() -> tuple[JSONValue, bytes | None]:
        scrubbed = scrubber.value(data)
        try:
            return scrubbed, encode_json(scrubbed)
        except ValueError:  # NaN or Infinity: no JSON for the store; shaping reports the failure
            return scrubbed, None

    return await asyncio.to_thread(work)


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__
