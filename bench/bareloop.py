"""The bare loop: the least code that performs a worker's I/O per command — the practical limit of the machine.

Per command it does exactly what the NoETL server's own worker does on the wire (see
``noetl-wire-capture/tiny/worker_http.jsonl``): take a pointer from the durable pull consumer, ``POST`` the
claim, ``POST`` the ``[command.started, step.enter]`` batch, run the tool, ``POST`` the
``[call.done, step.exit, command.completed]`` batch, ack. No framework, no validation, no retries, no
metrics: whatever a real worker spends beyond this is its own overhead. It uses the fastest stack measured on
this machine: aiohttp (one pooled session; with httpx's per-request pool bookkeeping the same loop cost
about twice the CPU per command, which hid the worker's own cost behind the client's) on uvloop, the event
loop the worker runs on too, so the ratio compares the worker's own code rather than two loops.

The tools are the benchmark's variants and nothing more: ``noop``; ``http`` as a plain ``GET`` (the 100 ms
I/O wait and the 1 MiB body come from ``bench.peer``); ``duckdb`` as one query in a thread; ``python`` as the
result its step returns, with no process (the fork cost is measured apart, by ``bench.forkcost``). A result over
100 KiB takes the reference path (``PUT /api/result/{execution_id}``), as the worker's result budget does.

Run as its own process with the worker's environment variables (``NATS_URL``, ``NATS_STREAM``,
``NATS_CONSUMER``, ``WORKER_MAX_CONCURRENT``, ``WORKER_ID``): ``python -m bench.bareloop``. SIGTERM or SIGINT
stop the pulls, let in-flight commands finish, and exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from typing import Any

import aiohttp
import nats
import uvloop
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext

INLINE_RESULT_LIMIT = 100 * 1024
PULL_EXPIRY_S = 5.0

JsonObject = dict[str, Any]


def _api(server_url: str, path: str) -> str:
    base = server_url.rstrip("/")
    base = base.removesuffix("/api")
    return f"{base}/api/{path}"


async def _run_tool(client: aiohttp.ClientSession, action: str, tool_config: JsonObject) -> Any:
    if action == "http":
        async with client.request(str(tool_config.get("method", "GET")), str(tool_config["url"])) as response:
            return {"status_code": response.status, "data": await response.text()}
    if action == "duckdb":
        return await asyncio.to_thread(_duckdb_query, str(tool_config["query"]))
    if action == "python":
        # No process: the fork a real isolation costs is measured on its own (bench.forkcost).
        return {"ok": True}
    return {}


def _duckdb_query(query: str) -> list[tuple[Any, ...]]:
    import duckdb  # noqa: PLC0415 - only this variant pays for the import, as in the worker

    with duckdb.connect() as connection:
        return connection.execute(query).fetchall()


class BareLoop:
    """Pull, claim, emit, ack — with ``slots`` commands in flight."""

    def __init__(self, nats_url: str, stream: str, consumer: str, slots: int, worker_id: str) -> None:
        self.nats_url = nats_url
        self.stream = stream
        self.consumer = consumer
        self.slots = slots
        self.worker_id = worker_id
        self.in_flight: set[asyncio.Task[None]] = set()
        self.slot_freed = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        """Serve until ``stopping`` is set, then finish what is in flight."""
        nc = await nats.connect(self.nats_url)
        connector = aiohttp.TCPConnector(limit=self.slots + 4)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30.0)) as client:
            subscription = await nc.jetstream().pull_subscribe_bind(self.consumer, self.stream)
            puller = asyncio.create_task(self._pull(subscription, client))
            await stopping.wait()
            # A parked pull holds nothing of ours yet; cancelling it only gives up the wait.
            puller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await puller
            if self.in_flight:
                await asyncio.wait(self.in_flight)
        await nc.close()

    async def _pull(self, subscription: JetStreamContext.PullSubscription, client: aiohttp.ClientSession) -> None:
        while True:
            free = self.slots - len(self.in_flight)
            if free == 0:
                await self.slot_freed.wait()
                self.slot_freed.clear()
                continue
            try:
                messages = await subscription.fetch(free, timeout=PULL_EXPIRY_S)
            except NatsTimeoutError:
                continue
            for message in messages:
                task = asyncio.create_task(self._handle(client, message))
                self.in_flight.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            print(f"bareloop: command failed: {task.exception()!r}", file=sys.stderr)

    async def _handle(self, client: aiohttp.ClientSession, message: Msg) -> None:
        pointer = json.loads(message.data)
        server_url = str(pointer["server_url"])
        async with client.post(
            _api(server_url, f"commands/{pointer['event_id']}/claim"), json={"worker_id": self.worker_id}
        ) as claim:
            if claim.status == 409:
                await message.ack()
                return
            if claim.status != 200:
                await message.nak(delay=1.0)
                return
            command: JsonObject = await claim.json()
        execution_id = str(command["execution_id"])
        step = str(command["node_name"])
        command_id = command["meta"]["command_id"]
        await self._emit(
            client,
            server_url,
            execution_id,
            [
                _event(step, "command.started", {"command_id": command_id, "worker_id": self.worker_id}),
                _event(step, "step.enter", {"status": "started"}),
            ],
        )
        context: JsonObject = command.get("context") or {}
        data = await _run_tool(client, str(command["action"]), context.get("tool_config") or {})
        result = await self._result(client, server_url, execution_id, step, data)
        done = {"command_id": command_id}
        await self._emit(
            client,
            server_url,
            execution_id,
            [
                _event(
                    step,
                    "call.done",
                    {
                        "response": data if "reference" not in result else None,
                        "command_id": command_id,
                        "loop_event_id": None,
                        "loop_iteration_index": None,
                        "result": result,
                    },
                    actionable=True,
                    meta=done,
                ),
                _event(
                    step,
                    "step.exit",
                    {"status": "COMPLETED", "result": result, "error": None, "command_id": command_id},
                    meta=done,
                ),
                _event(
                    step,
                    "command.completed",
                    {"command_id": command_id, "worker_id": self.worker_id, "result": result},
                ),
            ],
        )
        await message.ack()

    async def _result(
        self, client: aiohttp.ClientSession, server_url: str, execution_id: str, step: str, data: Any
    ) -> JsonObject:
        body = json.dumps(data, default=str)
        if len(body) <= INLINE_RESULT_LIMIT:
            return {"status": "COMPLETED", "context": data if isinstance(data, dict) else {"value": data}}
        async with client.put(
            _api(server_url, f"result/{execution_id}"),
            # The body is already serialized once; splice it rather than encode 1 MiB twice.
            data=f'{{"name": {json.dumps(step)}, "scope": "execution", "source_step": {json.dumps(step)}, '
            f'"data": {body}}}'.encode(),
            headers={"content-type": "application/json"},
        ) as stored:
            stored.raise_for_status()
            ref: JsonObject = await stored.json()
        return {
            "status": "COMPLETED",
            "reference": {
                "kind": "result_ref",
                "ref": ref["ref"],
                "store": ref.get("store"),
                "scope": ref.get("scope"),
                "meta": {"bytes": ref.get("bytes"), "sha256": ref.get("sha256")},
            },
        }

    async def _emit(
        self, client: aiohttp.ClientSession, server_url: str, execution_id: str, events: list[JsonObject]
    ) -> None:
        async with client.post(
            _api(server_url, "events/batch"),
            json={"execution_id": execution_id, "worker_id": self.worker_id, "events": events},
            headers={"Idempotency-Key": f"{self.worker_id}:{execution_id}:{uuid.uuid4().hex}"},
        ) as response:
            response.raise_for_status()


def _event(
    step: str, name: str, payload: JsonObject, *, actionable: bool = False, meta: JsonObject | None = None
) -> JsonObject:
    event: JsonObject = {"step": step, "name": name, "payload": payload, "actionable": actionable, "informative": True}
    if meta is not None:
        event["meta"] = meta
    return event


def _settings_from_env() -> BareLoop:
    missing = [name for name in ("NATS_URL", "NATS_STREAM", "NATS_CONSUMER") if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"bareloop: missing environment variable(s): {', '.join(missing)}")
    raw_slots = os.environ.get("WORKER_MAX_CONCURRENT", "4")
    try:
        slots = int(raw_slots)
    except ValueError:
        raise SystemExit(f"bareloop: WORKER_MAX_CONCURRENT={raw_slots!r} is not an integer") from None
    if slots < 1:
        raise SystemExit(f"bareloop: WORKER_MAX_CONCURRENT={slots} must be at least 1")
    return BareLoop(
        nats_url=os.environ["NATS_URL"],
        stream=os.environ["NATS_STREAM"],
        consumer=os.environ["NATS_CONSUMER"],
        slots=slots,
        worker_id=os.environ.get("WORKER_ID") or f"bareloop-{uuid.uuid4().hex[:8]}",
    )


async def _main() -> None:
    loop = _settings_from_env()
    stopping = asyncio.Event()
    running = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(signum, stopping.set)
    await loop.run(stopping)


def main() -> None:
    uvloop.run(_main())


if __name__ == "__main__":
    main()
