"""The ASGI application: routes, error rendering, counters and fault injection.

The middleware is plain ASGI (not Starlette's ``BaseHTTPMiddleware``) because it sits on every request
of every benchmark; it counts requests per route template, applies injected faults, and turns any
unexpected exception into a JSON 500 so no request can take the process down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from noetl_wire.errors import ErrorCode, error_body
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from noetl_standin.api import admin, commands, credentials, events, registry, results, variables
from noetl_standin.api._http import HttpError, dumps, json_response
from noetl_standin.core import ControlPlane

__all__ = ["build_app"]

log = logging.getLogger(__name__)


class ControlMiddleware:
    """Counters, fault injection and last-resort error handling around every HTTP request."""

    def __init__(self, app: ASGIApp, plane: ControlPlane) -> None:
        self.app = app
        self.plane = plane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        plane = self.plane
        method: str = scope["method"]
        path: str = scope["path"]
        started = False
        status = 0

        async def tracking_send(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
            await send(message)

        plane.inflight += 1
        try:
            decision = plane.faults.decide(method, path)
            if decision.latency:
                await asyncio.sleep(decision.latency)
            if decision.reject is not None:
                code = ErrorCode.POOL_SATURATED if decision.reject == "saturated" else ErrorCode.DB_UNAVAILABLE
                plane.counters.faults[decision.reject] += 1
                await _send_json(
                    send,
                    503,
                    error_body(code, f"injected fault: {decision.reject}"),
                    {"retry-after": f"{decision.retry_after:g}"},
                )
                status = 503
                return
            if decision.drop:
                plane.counters.faults["dropped_response"] += 1
                await self._run_and_drop(scope, receive, decision.hold)
                status = -1
                return
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", method, path)
            if not started:
                status = 500
                await _send_json(send, 500, error_body(ErrorCode.INTERNAL_ERROR, "internal error in the stand-in"))
        finally:
            plane.inflight -= 1
            # Route templates, not raw paths, so ids (or a scan of unknown URLs) cannot grow the counters.
            template = getattr(scope.get("route"), "path", None) or "<unmatched>"
            plane.counters.requests[f"{method} {template}"] += 1
            plane.counters.statuses[str(status)] += 1

    async def _run_and_drop(self, scope: Scope, receive: Receive, hold: float) -> None:
        """Handle the request fully (the write commits) but never send the response."""

        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        # Hold the connection until the client gives up (its timeout) or the hold expires.
        try:
            async with asyncio.timeout(hold):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            pass


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    payload = dumps(body)
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers.extend((k.encode(), v.encode()) for k, v in (headers or {}).items())
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    return exc.response()


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"detail": exc.detail}, exc.status_code, exc.headers)


def build_app(plane: ControlPlane, *, manage_plane: bool = True) -> Starlette:
    """The stand-in's ASGI app.

    With ``manage_plane`` the app's lifespan starts and stops ``plane``; the CLI and ``StandinServer``
    pass False and start it themselves first, so a NATS failure is reported as one clear line.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_plane:
            yield
            return
        await plane.start()
        try:
            yield
        finally:
            await plane.stop()

    app = Starlette(
        routes=[
            *registry.routes,
            *commands.routes,
            *events.routes,
            *variables.routes,
            *results.routes,
            *credentials.routes,
            *admin.routes,
        ],
        exception_handlers={HttpError: _http_error, HTTPException: _starlette_error},
        lifespan=lifespan,
    )
    app.state.plane = plane
    app.add_middleware(ControlMiddleware, plane=plane)
    return app
