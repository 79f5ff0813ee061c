"""A minimal control plane that answers at production speed: the worker protocol and nothing else.

``python -m bench.fastplane`` is not a NoETL server and not the stand-in: no engine, no event log, no
validation beyond reading the fields it needs. It exists so throughput runs measure the worker rather than
the server in front of it. A production NoETL server answers a claim or an event batch in well under a
millisecond of its own time (a connection pool, one insert); the stand-in, which replays the server's
semantics (projections, engine queue, per-request pydantic validation) under Starlette, spends several times
that, and on a 2-vCPU machine its CPU is taken from the worker being measured.

What it keeps, because the protocol needs it:

- ``POST /api/commands/{event_id}/claim`` arbitrates: 200 with the command (the same body shape and size the
  stand-in sends: ``tool_config``, ``input``, ``render_context``, ``spec``, ``meta``), 200 again for the holder,
  409 ``active_claim`` for anyone else, 409 ``already_terminal`` once the command finished, 404 if unknown.
- ``POST /api/events/batch`` (202) and ``POST /api/events`` (200, the Rust worker's one-event route) count the
  events by name and stamp the command finished on ``command.completed``/``command.failed`` (by
  ``command_id``); a repeated ``Idempotency-Key`` is answered as a duplicate and not counted twice.
- ``PUT /api/result/{execution_id}`` answers a reference; registry calls and ``POST /api/vars`` answer 200.
- ``/_fast/...`` is the harness's side: submit commands, read counters and per-command times.

It runs on uvloop with httptools' parser on a bare ``asyncio.Protocol`` (HTTP/1.1 keep-alive, no pipelining
needed by any client measured here), orjson for JSON. Its CPU per request is in every report
(``control plane µs/req``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httptools
import orjson
import uvloop

from bench.listen import add_address_arguments, announce, bind

__all__ = ["FastPlane", "main"]

_REASONS = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 404: b"Not Found", 409: b"Conflict"}
_ID = r"([0-9]{1,19})"
# method, compiled path pattern, the route template reported in the counters (the stand-in's templates).
_ROUTES: list[tuple[bytes, re.Pattern[bytes], str]] = [
    (b"POST", re.compile(rf"^/api/commands/{_ID}/claim$".encode()), "POST /api/commands/{event_id}/claim"),
    (b"POST", re.compile(rb"^/api/events/batch$"), "POST /api/events/batch"),
    (b"POST", re.compile(rb"^/api/events$"), "POST /api/events"),
    (b"PUT", re.compile(rf"^/api/result/{_ID}$".encode()), "PUT /api/result/{execution_id}"),
    (b"POST", re.compile(rf"^/api/vars/{_ID}$".encode()), "POST /api/vars/{execution_id}"),
    (b"POST", re.compile(rb"^/api/worker/pool/register$"), "POST /api/worker/pool/register"),
    (b"POST", re.compile(rb"^/api/worker/pool/heartbeat$"), "POST /api/worker/pool/heartbeat"),
    (b"POST", re.compile(rb"^/api/worker/pool/deregister$"), "POST /api/worker/pool/deregister"),
    (b"DELETE", re.compile(rb"^/api/worker/pool/deregister$"), "DELETE /api/worker/pool/deregister"),
    (b"GET", re.compile(rb"^/api/health$"), "GET /api/health"),
    (b"GET", re.compile(rb"^/health$"), "GET /health"),
    (b"POST", re.compile(rb"^/_fast/commands$"), "POST /_fast/commands"),
    (b"GET", re.compile(rb"^/_fast/counters$"), "GET /_fast/counters"),
    (b"POST", re.compile(rb"^/_fast/times$"), "POST /_fast/times"),
]
_TERMINAL_EVENTS = frozenset({"command.completed", "command.failed"})


@dataclass(slots=True)
class _Command:
    execution_id: int
    event_id: int
    command_id: int
    step: str
    claim_body: bytes
    holder: str | None = None
    claimed_at: float | None = None
    completed_at: float | None = None
    status: str = "PENDING"


class FastPlane:
    """The state behind the routes: commands by event id and command id, counters, seen idempotency keys."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.commands: dict[int, _Command] = {}
        self.by_command_id: dict[str, _Command] = {}
        self.requests: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.keys: set[str] = set()
        # Large, snowflake-sized ids (as the server's), distinct per kind so a mix-up fails loudly.
        self._ids = itertools.count(600_000_000_000_000_000)

    def new_id(self) -> int:
        return next(self._ids)

    # --- the worker's routes ----------------------------------------------------------------------------
    def handle(self, method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes) -> tuple[int, bytes]:
        for route_method, pattern, template in _ROUTES:
            if route_method != method:
                continue
            match = pattern.match(path)
            if match is None:
                continue
            self.requests[template] += 1
            try:
                status, answer = self._dispatch(template, match.groups(), headers, body)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                status, answer = 400, {"detail": f"bad request: {type(exc).__name__}: {exc}"}
            self.statuses[str(status)] += 1
            return status, answer if isinstance(answer, bytes) else orjson.dumps(answer)
        self.requests["<unmatched>"] += 1
        self.statuses["404"] += 1
        return 404, orjson.dumps({"detail": "Not Found"})

    def _dispatch(
        self, template: str, params: Sequence[bytes], headers: dict[bytes, bytes], body: bytes
    ) -> tuple[int, Any]:
        if template == "POST /api/commands/{event_id}/claim":
            return self._claim(int(params[0]), orjson.loads(body)["worker_id"])
        if template == "POST /api/events/batch":
            return self._batch(orjson.loads(body), headers.get(b"idempotency-key"))
        if template == "POST /api/events":
            event = orjson.loads(body)
            self._event(event.get("name") or event.get("event_type"), event.get("payload") or event.get("context"))
            return 200, {"status": "ok", "event_id": self.new_id(), "commands_generated": 0}
        if template == "PUT /api/result/{execution_id}":
            return 200, {
                "ref": f"noetl://execution/{int(params[0])}/result/bench/{self.new_id()}",
                "store": "memory",
                "scope": "execution",
                "bytes": len(body),
                "sha256": None,
            }
        if template == "POST /_fast/commands":
            return 200, self._submit(orjson.loads(body))
        if template == "GET /_fast/counters":
            return 200, {"requests": self.requests, "events": self.events, "statuses": self.statuses}
        if template == "POST /_fast/times":
            return 200, self._times(orjson.loads(body)["execution_ids"])
        return 200, {"status": "ok"}

    def _claim(self, event_id: int, worker_id: str) -> tuple[int, Any]:
        command = self.commands.get(event_id)
        if command is None:
            return 404, {"detail": f"command not found: {event_id}"}
        if command.completed_at is not None:
            detail = {"code": "already_terminal", "message": f"command {command.command_id} is already terminal"}
            return 409, {"detail": detail}
        if command.holder is not None and command.holder != worker_id:
            detail = {"code": "active_claim", "message": f"claimed by {command.holder}", "worker_id": command.holder}
            return 409, {"detail": detail}
        if command.holder is None:
            command.holder, command.claimed_at, command.status = worker_id, time.time(), "CLAIMED"
        return 200, command.claim_body

    def _batch(self, batch: dict[str, Any], key: bytes | None) -> tuple[int, Any]:
        duplicate = False
        if key is not None:
            duplicate = key.decode() in self.keys
            self.keys.add(key.decode())
        events = batch["events"]
        if not duplicate:
            for event in events:
                self._event(event["name"], event.get("payload"))
        return 202, {
            "status": "accepted",
            "request_id": str(self.new_id()),
            "event_ids": [self.new_id() for _ in events],
            "commands_generated": 0,
            "queue_depth": 0,
            "duplicate": duplicate,
            "idempotency_key": key.decode() if key is not None else None,
        }

    def _event(self, name: str, payload: dict[str, Any] | None) -> None:
        self.events[name] += 1
        if name in _TERMINAL_EVENTS and payload is not None:
            command = self.by_command_id.get(str(payload.get("command_id")))
            if command is not None and command.completed_at is None:
                command.completed_at = time.time()
                command.status = "COMPLETED" if name == "command.completed" else "FAILED"

    # --- the harness's routes ---------------------------------------------------------------------------
    def _submit(self, spec: dict[str, Any]) -> list[list[Any]]:
        """``count`` commands of one kind, 20 to an execution as the stand-in issues them."""
        kind, tool_config, prefix = str(spec["kind"]), spec.get("tool_config") or {}, str(spec["prefix"])
        pointers: list[list[Any]] = []
        execution_id = 0
        for index in range(int(spec["count"])):
            if index % 20 == 0:
                execution_id = self.new_id()
            step = f"{prefix}{index:06d}"
            event_id, command_id = self.new_id(), self.new_id()
            body = {
                "status": "ok",
                "event_id": event_id,
                "execution_id": execution_id,
                "node_id": step,
                "node_name": step,
                "action": kind,
                "context": {
                    "tool_config": tool_config,
                    "input": {},
                    "render_context": {
                        "workload": {},
                        "iter": {},
                        "event": {"name": "command_creation", "step": step, "payload": {}},
                        "job": {"id": execution_id, "uuid": execution_id, "execution_id": execution_id},
                        "execution_id": execution_id,
                        "catalog_id": "1",
                    },
                    "spec": {"next_mode": "exclusive"},
                },
                "meta": {
                    "command_id": command_id,
                    "step": step,
                    "tool_kind": kind,
                    "actionable": True,
                    "attempt": 1,
                    "max_attempts": 3,
                    "execution_id": str(execution_id),
                    "catalog_id": "1",
                },
            }
            command = _Command(execution_id, event_id, command_id, step, orjson.dumps(body))
            self.commands[event_id] = command
            self.by_command_id[str(command_id)] = command
            pointers.append([execution_id, event_id, command_id, step])
        return pointers

    def _times(self, execution_ids: Sequence[int]) -> list[dict[str, Any]]:
        wanted = set(execution_ids)
        return [
            {
                "event_id": c.event_id,
                "status": c.status,
                "claimed_at": _iso(c.claimed_at),
                "completed_at": _iso(c.completed_at),
            }
            for c in self.commands.values()
            if c.execution_id in wanted
        ]


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: parse with httptools, answer from :class:`FastPlane`."""

    def __init__(self, plane: FastPlane) -> None:
        self.plane = plane
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None  # uvloop's TCPTransport (not an asyncio.Transport subclass)
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.transport is None:
            return
        path = self.url.split(b"?", 1)[0]
        status, payload = self.plane.handle(self.parser.get_method(), path, self.headers, b"".join(self.body))
        keep_alive = self.parser.should_keep_alive()
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n" % (
            status,
            _REASONS.get(status, b"OK"),
            len(payload),
            b"" if keep_alive else b"connection: close\r\n",
        )
        self.transport.write(head + payload)
        if not keep_alive:
            self.transport.close()


async def serve(sock: socket.socket, announce: Callable[[], None]) -> None:
    host, port = sock.getsockname()[:2]
    plane = FastPlane(f"http://{host}:{port}")
    server = await asyncio.get_running_loop().create_server(lambda: _Connection(plane), sock=sock)
    announce()
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fastplane", description=__doc__.splitlines()[0])
    add_address_arguments(parser)
    args = parser.parse_args(argv)
    sock = bind("bench.fastplane", args.host, args.port)
    if sock is None:
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(sock, lambda: announce(sock)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
