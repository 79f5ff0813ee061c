"""``/metrics``, ``/healthz`` and ``/readyz`` on ``WORKER_METRICS_BIND`` — a few lines of asyncio, no framework.

``/healthz`` answers 200 whenever the event loop can serve it (a blocked loop cannot answer, which is the
point). ``/readyz`` answers 200 only when the worker is connected to NATS, registered with the control
plane and not draining; otherwise 503 with the reasons, so dashboards say why. Busy slots never make it 503:
work is pulled, not routed, so a saturated pod is doing its job (saturation is the ``noetl_worker_slots_*``
gauges on ``/metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from noetl_worker.runtime.metrics import CONTENT_TYPE, WorkerMetrics

__all__ = ["HealthServer"]

log = logging.getLogger("noetl_worker.runtime")

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request", 503: "Service Unavailable"}


class HealthServer:
    """Serves the three endpoints. ``not_ready()`` returns the reasons the worker is not ready (empty = ready)."""

    def __init__(self, host: str, port: int, metrics: WorkerMetrics, not_ready: Callable[[], list[str]]) -> None:
        self.host = host
        self.port = port
        self.metrics = metrics
        self.not_ready = not_ready
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        sockets = self._server.sockets or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info(f"serving /metrics, /healthz, /readyz on {self.host}:{self.port}")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            status, content_type, body = self._route(method, path)
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (body if method != "HEAD" else b"")
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE, self.metrics.exposition()
        if path == "/healthz":
            return 200, "text/plain", b"ok"
        if path == "/readyz":
            reasons = self.not_ready()
            body = json.dumps({"ready": not reasons, "reasons": reasons}).encode()
            return (503 if reasons else 200), "application/json", body
        return 404, "text/plain", b"not found\n"
