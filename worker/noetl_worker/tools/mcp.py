"""``mcp``: call a Model Context Protocol server over streamable HTTP (JSON-RPC 2.0), with httpx.

Config keys: endpoint ``endpoint`` | ``url`` | ``server_url`` | ``base_url``, else the environment
``NOETL_MCP_<SERVER>_ENDPOINT``, ``NOETL_MCP_<SERVER>_URL``, ``NOETL_MCP_URL`` (``<SERVER>`` upper-cased,
non-alphanumerics → ``_``); ``server`` | ``name`` (default ``kubernetes``); ``method`` | ``action``
(``tools/call`` default, ``tools/list``, ``health``, or any JSON-RPC method with ``params``); ``tool`` |
``tool_name``; ``arguments`` | ``args`` (object or JSON text); ``params``; ``timeout_seconds`` | ``timeout``
(env ``NOETL_MCP_REQUEST_TIMEOUT_SECONDS``, default 60; capped by the deadline); ``request_id`` (1);
``protocol_version`` (``2025-03-26``); ``client_name`` (``noetl-worker``); ``client_version`` (``0``);
``capabilities`` ({}); ``headers`` (extra HTTP headers, e.g. authorization from the keychain).

Flow: ``initialize`` → (``Mcp-Session-Id`` kept when the server sets one) → ``notifications/initialized`` →
the call → ``DELETE`` of the session. Responses may be JSON or an SSE stream; the JSON-RPC response with the
call's id is taken from it. ``health`` is a plain ``GET`` of ``…/healthz``.

Result (success ToolResult): ``{status: "ok", server, endpoint, method, tool, arguments, text, result,
initialize}``; any failure after the endpoint is known (HTTP, JSON-RPC error, malformed reply, missing tool
name) is also a success ToolResult with ``{status: "error", server, endpoint, method, tool, arguments, error,
text}``, so playbooks can branch on it, as in the reference. Secret values never appear in the echo.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import httpx

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import ConfigReader, render_config
from noetl_worker.tools._httpclient import third_party_client
from noetl_worker.tools._redact import redact
from noetl_worker.tools.base import ToolContext, ToolResult

__all__ = ["McpTool", "health_url", "resolve_endpoint"]

DEFAULT_SERVER = "kubernetes"
DEFAULT_PROTOCOL_VERSION = "2025-03-26"
DEFAULT_TIMEOUT_SECONDS = 60.0
_ACCEPT = "application/json, text/event-stream"


class _McpFailure(Exception):
    """Anything that went wrong talking to the server; reported inside a success result."""


def resolve_endpoint(cfg: ConfigReader, server: str, context: ToolContext) -> str | None:
    key = cfg.first_key("endpoint", "url", "server_url", "base_url")
    if key is not None:
        return cfg.text(key).rstrip("/")
    servers = context.variables.get("mcp_servers")
    if isinstance(servers, dict) and isinstance(servers.get(server), str) and servers[server]:
        return str(servers[server]).rstrip("/")
    env_name = re.sub(r"[^A-Za-z0-9]", "_", server).upper()
    for variable in (f"NOETL_MCP_{env_name}_ENDPOINT", f"NOETL_MCP_{env_name}_URL", "NOETL_MCP_URL"):
        value = os.environ.get(variable, "").strip()
        if value:
            return value.rstrip("/")
    return None


def health_url(endpoint: str) -> str:
    url = httpx.URL(endpoint)
    path = url.path.rstrip("/")
    for suffix in ("/mcp", "/sse", "/message"):
        if path.endswith(suffix):
            return str(url.copy_with(path=path[: -len(suffix)] + "/healthz"))
    return str(url.copy_with(path=path + "/healthz"))


def _sse_messages(text: str) -> list[JSONValue]:
    messages: list[JSONValue] = []
    for event in re.split(r"\r?\n\r?\n", text):
        data = "\n".join(line[5:].removeprefix(" ") for line in event.splitlines() if line.startswith("data:"))
        if data.strip():
            try:
                messages.append(json.loads(data))
            except ValueError:
                continue
    return messages


def _envelope(response: httpx.Response, request_id: int) -> JSONObject:
    if not response.is_success:
        raise _McpFailure(f"HTTP {response.status_code} response: {response.text[:500]}")
    content_type = response.headers.get("content-type", "")
    try:
        candidates = _sse_messages(response.text) if "text/event-stream" in content_type else [response.json()]
    except ValueError:
        raise _McpFailure(f"the server's reply is not JSON: {response.text[:200]!r}") from None
    flat: list[JSONValue] = []
    for candidate in candidates:  # a JSON-RPC batch reply is a list of responses
        flat.extend(candidate if isinstance(candidate, list) else [candidate])
    for candidate in flat:
        if isinstance(candidate, dict) and candidate.get("id") == request_id:
            error = candidate.get("error")
            if error is not None:
                message = error.get("message") if isinstance(error, dict) else error
                raise _McpFailure(f"JSON-RPC error: {message}")
            return candidate
    raise _McpFailure(f"no JSON-RPC response with id {request_id} in the server's reply")


def _text_of(result: JSONValue) -> str:
    content = result.get("content") if isinstance(result, dict) else None
    if isinstance(content, list):
        texts = [str(item.get("text", "")) for item in content if isinstance(item, dict) and item.get("type") == "text"]
        if texts:
            return "\n".join(texts)
    return json.dumps(result, separators=(",", ":"))


class McpTool:
    kind: ClassVar[str] = "mcp"

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = third_party_client()  # not context.http: see noetl_worker.tools._httpclient
        return self._client

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        server = cfg.text(cfg.first_key("server", "name") or "server", DEFAULT_SERVER)
        method = cfg.text(cfg.first_key("method", "action") or "method", "tools/call")
        endpoint = resolve_endpoint(cfg, server, context)
        if endpoint is None:
            raise cfg.error(
                "endpoint", f"required: set it, or NOETL_MCP_{re.sub(r'[^A-Za-z0-9]', '_', server).upper()}_ENDPOINT"
            )
        if not endpoint.startswith(("http://", "https://")):
            raise cfg.error("endpoint", "must be an http:// or https:// URL")
        tool = cfg.text(cfg.first_key("tool", "tool_name") or "tool", None)
        arguments = self._arguments(cfg)
        default_timeout = _env_timeout()
        timeout_key = cfg.first_key("timeout_seconds", "timeout") or "timeout_seconds"
        timeout = max(0.1, min(cfg.number(timeout_key, default_timeout, minimum=0.001), context.remaining()))
        request_id = cfg.integer("request_id", 1)
        echo: JSONObject = {"server": server, "endpoint": endpoint, "method": method}
        client = self._http()
        if method in ("tools/call",):
            echo.update(tool=tool, arguments=redact(arguments, context.secrets))

        exchange = _Exchange(client, cfg, endpoint, method, tool, arguments, request_id, timeout, echo)
        try:
            if method == "health":
                data = await exchange.health()
            else:
                if method == "tools/call" and not tool:
                    raise _McpFailure("tools/call needs `tool` (the MCP tool name)")
                data = await exchange.call()
        except _McpFailure as exc:
            message = str(redact(str(exc), context.secrets))
            data = {"status": "error", **echo, "error": message, "text": message}
        except httpx.TimeoutException:
            message = f"timed out after {timeout:g} seconds"
            data = {"status": "error", **echo, "error": message, "text": message}
        except httpx.HTTPError as exc:
            message = f"HTTP error: {type(exc).__name__}: {redact(str(exc), context.secrets)}"
            data = {"status": "error", **echo, "error": message, "text": message}
        return ToolResult.success(data, duration_ms=int((time.monotonic() - started) * 1000))

    @staticmethod
    def _arguments(cfg: ConfigReader) -> JSONObject:
        key = cfg.first_key("arguments", "args") or "arguments"
        raw = cfg.raw(key, {})
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise cfg.error(key, "a string must be a JSON object") from None
        if not isinstance(raw, dict):
            raise cfg.error(key, "expected an object (or its JSON text)")
        return raw


@dataclass(frozen=True, slots=True)
class _Exchange:
    """One MCP conversation: where, what, and how long each HTTP request may take."""

    client: httpx.AsyncClient
    cfg: ConfigReader
    endpoint: str
    method: str
    tool: str | None
    arguments: JSONObject
    request_id: int
    limit: float
    echo: JSONObject

    async def health(self) -> JSONObject:
        url = health_url(self.endpoint)
        response = await self.client.get(url, headers=self.cfg.str_map("headers"), timeout=self.limit)
        if not response.is_success:
            raise _McpFailure(f"HTTP {response.status_code} response from {url}")
        return {"status": "ok", **self.echo, "healthy": True, "text": response.text}

    async def call(self) -> JSONObject:
        cfg, client, limit = self.cfg, self.client, self.limit
        headers = {"Content-Type": "application/json", "Accept": _ACCEPT, **cfg.str_map("headers")}
        initialize = {
            "jsonrpc": "2.0", "id": self.request_id, "method": "initialize",
            "params": {"protocolVersion": cfg.text("protocol_version", DEFAULT_PROTOCOL_VERSION),
                       "capabilities": cfg.mapping("capabilities", {}),
                       "clientInfo": {"name": cfg.text("client_name", "noetl-worker"),
                                      "version": cfg.text("client_version", "0")}},
        }  # fmt: skip
        response = await client.post(self.endpoint, json=initialize, headers=headers, timeout=limit)
        init_reply = _envelope(response, self.request_id)
        session = response.headers.get("mcp-session-id")
        if session:
            headers["Mcp-Session-Id"] = session
        negotiated = init_reply.get("result")
        if isinstance(negotiated, dict) and isinstance(negotiated.get("protocolVersion"), str):
            headers["MCP-Protocol-Version"] = str(negotiated["protocolVersion"])
        try:
            # The MCP lifecycle has the client confirm initialisation first; strict servers wait for it.
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await client.post(self.endpoint, json=initialized, headers=headers, timeout=limit)
            call = {"jsonrpc": "2.0", "id": self.request_id + 1, "method": self.method, "params": self._params()}
            reply = _envelope(
                await client.post(self.endpoint, json=call, headers=headers, timeout=limit), self.request_id + 1
            )
        finally:
            if session:
                with contextlib.suppress(httpx.HTTPError):  # the server expires idle sessions anyway
                    await client.delete(self.endpoint, headers=headers, timeout=min(limit, 5.0))
        result = reply.get("result")
        result_object: JSONObject = result if isinstance(result, dict) else {"value": result}
        return {"status": "ok", **self.echo, "text": _text_of(result), "result": result_object,
                "initialize": negotiated}  # fmt: skip

    def _params(self) -> JSONValue:
        if self.method == "tools/call":
            return {"name": self.tool, "arguments": self.arguments}
        if self.method == "tools/list":
            return self.cfg.mapping("params", {})
        return self.cfg.raw("params", {})


def _env_timeout() -> float:
    raw = os.environ.get("NOETL_MCP_REQUEST_TIMEOUT_SECONDS", "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS
    return value if value > 0 else DEFAULT_TIMEOUT_SECONDS
