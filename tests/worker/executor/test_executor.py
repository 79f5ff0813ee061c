"""The executor end to end against the real stand-in (HTTP only): results, timeouts, cases, failures.

Tools here are local test tools in a test-only registry, so each scenario controls exactly what the tool
does; everything else — claim, events, result store, variables — is the stand-in over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, ClassVar

import httpx
import pyarrow as pa
import pytest
from noetl_standin.admin import StandinAdmin
from noetl_wire.commands import ClaimedCommand
from noetl_worker.control_plane.client import ControlPlaneClient
from noetl_worker.control_plane.retry import Backoff
from noetl_worker.executor.executor import CommandExecutor
from noetl_worker.executor.results import INLINE_BUDGET_BYTES
from noetl_worker.jsontypes import JSONValue
from noetl_worker.runtime.metrics import WorkerMetrics
from noetl_worker.scrub import Scrubber
from noetl_worker.tools.base import ToolContext, ToolRegistry, ToolResult

from tests.support.standin import StandinProcess, running_standin

pytestmark = pytest.mark.integration

BIG = {"items": [{"i": i, "text": "x" * 100} for i in range(1500)], "count": 1500}
TABLE = {"rows": [{"i": i, "text": "x" * 100} for i in range(1500)], "count": 1500}


class EchoTool:
    """Returns its config's ``data`` (a test tool)."""

    kind: ClassVar[str] = "echo"

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        return ToolResult.success(config.get("data"))


class SleepTool:
    kind: ClassVar[str] = "sleep"

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        await asyncio.sleep(float(str(config.get("seconds", 10))))
        return ToolResult.success({"slept": True})


class BoomTool:
    kind: ClassVar[str] = "boom"

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        raise RuntimeError(f"exploded while holding {context.secrets.get('API_KEY')}")


@pytest.fixture
def standin() -> Iterator[StandinProcess]:
    with running_standin() as process:
        yield process


@pytest.fixture
async def admin(standin: StandinProcess) -> AsyncIterator[StandinAdmin]:
    async with StandinAdmin(standin.url) as client:
        yield client


@pytest.fixture
async def client(standin: StandinProcess) -> AsyncIterator[ControlPlaneClient]:
    cp = ControlPlaneClient(
        worker_id="w-exec", server_url=standin.url, metrics=WorkerMetrics(), backoff=Backoff(0.05, 0.2, floor=0.01)
    )
    yield cp
    await cp.aclose()


def executor(client: ControlPlaneClient, command_timeout: float = 30.0) -> CommandExecutor:
    registry = ToolRegistry()
    for tool in (EchoTool, SleepTool, BoomTool):
        registry.register(tool.kind, tool)
    return CommandExecutor(
        client=client, registry=registry, metrics=client.metrics, worker_id="w-exec",
        keychain={"API_KEY": "key-1234567890"}, scrubber=Scrubber(["key-1234567890"]),
        command_timeout=command_timeout, outcome_hold=10.0,
    )  # fmt: skip


async def claim(
    admin: StandinAdmin, client: ControlPlaneClient, standin: StandinProcess, kind: str, config: dict[str, Any],
    cases: list[Any] | None = None,
) -> ClaimedCommand:  # fmt: skip
    job = await admin.submit_job([{"name": "s", "kind": kind, "tool_config": config}])
    event_id = job.commands["s"].event_id
    assert event_id is not None
    outcome = await client.claim(standin.url, event_id)
    assert outcome.command is not None
    command = outcome.command
    if cases is not None:
        context = command.context.model_copy(update={"cases": cases})
        command = command.model_copy(update={"context": context})
    return command


async def terminal_events(admin: StandinAdmin, execution_id: int) -> dict[str, dict[str, Any]]:
    return {e["event_type"]: e for e in await admin.events(execution_id) if e["event_type"] != "command.issued"}


async def test_a_result_over_the_budget_goes_to_the_result_store(
    admin: StandinAdmin, client: ControlPlaneClient, standin: StandinProcess
) -> None:
    command = await claim(admin, client, standin, "echo", {"data": BIG})
    outcome = await executor(client).execute(command, standin.url)
    assert outcome.delivered
    assert not outcome.failed
    done = (await terminal_events(admin, command.execution_id))["call.done"]["payload"]
    reference = done["result"]["reference"]
    assert done["response"] == reference
    assert reference["kind"] == "result_ref"
    assert reference["meta"]["bytes"] > INLINE_BUDGET_BYTES
    assert done["result"]["context"] == {"count": 1500}
    async with httpx.AsyncClient() as http:
        stored = await http.get(f"{standin.url}/api/result/resolve", params={"ref": reference["ref"]})
    assert stored.json() == BIG
    assert client.metrics.registry.get_sample_value("noetl_worker_result_store_put_bytes_total") > INLINE_BUDGET_BYTES


async def test_a_large_text_result_is_stored_scrubbed(
    admin: StandinAdmin, client: ControlPlaneClient, standin: StandinProcess
) -> None:
    """The JSON made (once, in a thread) for the result store is the scrubbed one, byte for byte."""
    text = "é" * 60_000 + " key-1234567890 Authorization: Bearer abcdefghijkl " + "x" * 60_000
    command = await claim(admin, client, standin, "echo", {"data": {"status": 200, "body": text, "n": 1.5}})
    assert (await executor(client).execute(command, standin.url)).delivered
    done = (await terminal_events(admin, command.execution_id))["call.done"]["payload"]
    scrubbed = "é" * 60_000 + " [REDACTED] Authorization: [REDACTED] " + "x" * 60_000
    assert "context" not in done["result"]  # the long text makes the scalar summary too big to keep
    async with httpx.AsyncClient() as http:
        stored = await http.get(f"{standin.url}/api/result/resolve", params={"ref": done["response"]["ref"]})
    assert stored.json() == {"status": 200, "body": scrubbed, "n": 1.5}
    assert done["response"]["meta"]["bytes"] == len(
        json.dumps(stored.json(), separators=(",", ":"), ensure_ascii=False).encode()
    )


async def test_a_large_table_is_stored_as_arrow_ipc(
    admin: StandinAdmin, client: ControlPlaneClient, standin: StandinProcess
) -> None:
    command = await claim(admin, client, standin, "echo", {"data": TABLE})
    assert (await executor(client).execute(command, standin.url)).delivered
    reference = (await terminal_events(admin, command.execution_id))["call.done"]["payload"]["result"]["reference"]
    assert reference["meta"]["media_type"] == "application/vnd.apache.arrow.stream"
    async with httpx.AsyncClient() as http:
        stored = (await http.get(f"{standin.url}/api/result/resolve", params={"ref": reference["ref"]})).json()
    table = pa.ipc.open_stream(base64.b64decode(stored["data"])).read_all()
    assert table.num_rows == 1500
    assert table.column("i")[1499].as_py() == 1499


async def test_the_command_timeout_cancels_the_tool_and_reports_why(
    admin: StandinAdmin, client: ControlPlaneClient, standin: StandinProcess
) -> None:
    command = await claim(admin, client, standin, "sleep", {"seconds": 30})
    outcome = await executor(client, command_timeout=0.3).execute(command, standin.url)
    assert outcome.failed
    events = await terminal_events(admin, command.execution_id)
    assert events["call.error"]["payload"]["error"] == "Execution timed out after 0.3 seconds"
    assert events["step.exit"]["payload"]["status"] == "FAILED"
    assert "command.failed" in events


async def test_a_tool_exception_is_call_error_with_secrets_scrubbed(
    admin: StandinAdmin, client: ControlPlaneClient, standin: StandinProcess
) -> None:
    command = await claim(admin, client, standin, "boom", {})
    outcome = await executor(client).execute(command, standin.url)
    assert outcome.failed
    events = await terminal_events(admin, command.execution_id)
    assert events["call.error"]["payload"]["error"] == "exploded while holding [REDACTED]"
    assert events["command.failed"]["payload"]["error"] == "exploded while holding [REDACTED]"


async def test_case_actions(admin: StandinAdmin, client: ControlPlaneClient, standin: StandinProcess) -> None:
    run = executor(client)
    exit_case = [{"when": [{"left": "result.n", "op": "gt", "right": 1}], "then": {"exit": {"status": "SKIPPED"}}}]
    command = await claim(admin, client, standin, "echo", {"data": {"n": 2}}, exit_case)
    assert not (await run.execute(command, standin.url)).failed
    assert (await terminal_events(admin, command.execution_id))["step.exit"]["payload"]["status"] == "SKIPPED"

    set_var = [{"when": [], "then": {"set_var": {"name": "seen", "value": "{{ result.n }}"}}}]
    command = await claim(admin, client, standin, "echo", {"data": {"n": 3}}, set_var)
    assert not (await run.execute(command, standin.url)).failed
    async with httpx.AsyncClient() as http:
        var = (await http.get(f"{standin.url}/api/vars/{command.execution_id}/seen")).json()
    assert var["value"] == "{{ result.n }}"  # set_var stores the value as given, like the seed

    fail = [{"when": [{"left": "result.n", "op": "eq", "right": 4}], "then": {"fail": {"message": "n is 4"}}}]
    command = await claim(admin, client, standin, "echo", {"data": {"n": 4}}, fail)
    assert (await run.execute(command, standin.url)).failed
    events = await terminal_events(admin, command.execution_id)
    assert events["call.error"]["payload"]["error"] == "Case evaluation failed: n is 4"
    assert "command.completed" not in events
