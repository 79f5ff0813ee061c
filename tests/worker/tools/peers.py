"""Real peers for the tool tests, served on 127.0.0.1 by uvicorn in a background thread.

* :func:`serving` runs any ASGI app and yields its base URL.
* :func:`echo_app` is an HTTP peer that reports what it received (method, path, query, headers, body) and
  offers status, redirect, slow, text and binary endpoints.

Tools that talk to the control plane are tested against the real stand-in instead (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.support.nats import free_port


@contextlib.contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on a free loopback port for the duration of the block; yields ``http://127.0.0.1:<port>``."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"test peer did not start on port {port}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params.multi_items()),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
        }
    )


async def _status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return JSONResponse({"error": "as requested", "code": code}, status_code=code)


async def _redirect(request: Request) -> Response:
    return RedirectResponse("/echo", status_code=302)


async def _slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("s", "5")))
    return PlainTextResponse("late")


async def _cookie(request: Request) -> Response:
    response = PlainTextResponse("cookie set")
    response.set_cookie("session", "from-another-execution")
    return response


async def _text(request: Request) -> Response:
    return PlainTextResponse("hello, world")


async def _binary(request: Request) -> Response:
    return Response(bytes(range(256)), media_type="application/octet-stream")


def echo_app() -> Starlette:
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/echo", _echo, methods=methods),
            Route("/echo/{rest:path}", _echo, methods=methods),
            Route("/status/{code:int}", _status, methods=methods),
            Route("/redirect", _redirect),
            Route("/slow", _slow),
            Route("/text", _text),
            Route("/cookie", _cookie),
            Route("/binary", _binary),
        ]
    )


def mcp_app(*, json_response: bool = False) -> Starlette:
    """A real MCP server (the ``mcp`` SDK's streamable HTTP transport at ``/mcp``) with a ``/healthz`` route.

    Tools: ``add(a, b)``, ``echo(text)``, ``fail(reason)`` (raises, so the call result has ``isError``).
    """
    from mcp.server import MCPServer  # noqa: PLC0415 - dev dependency, imported by the tests that need it

    server = MCPServer("noetl-test")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Return the text."""
        return text

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails."""
        raise ValueError(reason)

    app = server.streamable_http_app(json_response=json_response)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    app.router.routes.append(Route("/healthz", healthz))
    return app
