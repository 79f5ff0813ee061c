"""Real peers for the tool tests, served on 127.0.0.1 by uvicorn in a background thread.

* :func:`serving` runs any ASGI app and yields its base URL.
* :func:`echo_app` is an HTTP peer that reports what it received (method, path, query, headers, body) and
  offers status, redirect, slow, text and binary endpoints.
* :func:`control_plane_app` serves the documented control-plane slices tools use: credentials
  (``GET /api/credentials/{name}``) and the result store (``PUT /api/result/{eid}``,
  ``GET /api/result/resolve``); :class:`HttpControlPlane` is a ControlPlaneAccess over HTTP against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn
from noetl_worker.jsontypes import JSONObject, JSONValue
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
            Route("/binary", _binary),
        ]
    )


class ControlPlaneState:
    """What the control-plane peer holds: credentials by name and stored results by ref."""

    def __init__(self) -> None:
        self.credentials: dict[str, JSONObject] = {}
        self.results: dict[str, JSONValue] = {}
        self.credential_requests: list[str] = []

    def add_credential(self, name: str, type_: str, data: JSONObject) -> None:
        self.credentials[name] = {"id": str(len(self.credentials) + 1), "name": name, "type": type_, "data": data}


def control_plane_app(state: ControlPlaneState) -> Starlette:
    async def credential(request: Request) -> Response:
        name = request.path_params["name"]
        state.credential_requests.append(str(request.url.path) + "?" + str(request.url.query))
        found = state.credentials.get(name)
        if found is None:
            return JSONResponse({"detail": "Credential not found"}, status_code=404)
        include = request.query_params.get("include_data", "false").lower() == "true"
        return JSONResponse(found if include else {k: v for k, v in found.items() if k != "data"})

    async def put_result(request: Request) -> Response:
        body = await request.json()
        eid = request.path_params["eid"]
        ref = f"noetl://execution/{eid}/result/{body['name']}/{uuid.uuid4().hex[:8]}"
        state.results[ref] = body["data"]
        return JSONResponse({"ref": ref, "store": "memory", "scope": body.get("scope", "execution"), "bytes": 0})

    async def resolve(request: Request) -> Response:
        ref = request.query_params.get("ref", "")
        if not ref.startswith("noetl://"):
            return JSONResponse({"detail": "ref must start with noetl://"}, status_code=400)
        if ref not in state.results:
            return JSONResponse({"detail": "Result not found"}, status_code=404)
        return JSONResponse(state.results[ref])

    return Starlette(
        routes=[
            Route("/api/credentials/{name}", credential),
            Route("/api/result/resolve", resolve),
            Route("/api/result/{eid:int}", put_result, methods=["PUT"]),
        ]
    )


class HttpControlPlane:
    """ControlPlaneAccess over real HTTP (the documented endpoints), for tests of tools that use it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._client = httpx.AsyncClient(base_url=base_url, timeout=10)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def resolve_result(self, ref: str) -> JSONValue:
        response = await self._client.get("/api/result/resolve", params={"ref": ref})
        if response.status_code == 404:
            raise LookupError(f"result {ref} not found")
        response.raise_for_status()
        value: JSONValue = response.json()
        return value

    async def put_result(self, execution_id: int, name: str, data: JSONValue) -> JSONObject:
        response = await self._client.put(f"/api/result/{execution_id}", json={"name": name, "data": data})
        response.raise_for_status()
        body: JSONObject = response.json()
        return body

    async def get_credential(self, name: str, execution_id: int | None = None) -> JSONObject | None:
        params: dict[str, Any] = {"include_data": "true"}
        if execution_id is not None:
            params["execution_id"] = execution_id
        response = await self._client.get(f"/api/credentials/{name}", params=params)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: JSONObject = response.json()
        return body
