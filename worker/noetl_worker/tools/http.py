"""``http``: one HTTP request with httpx.

Config keys: ``url`` (required), ``method`` (GET; case-insensitive), ``headers``, ``params`` (query),
``json`` > ``form`` > ``body`` (raw text, or JSON for non-strings), ``timeout_seconds`` (alias ``timeout``;
default 30, capped by the command's deadline), ``follow_redirects`` (default true), ``max_redirects`` (20),
``response_type`` (``json`` | ``text`` | ``binary``), ``max_response_bytes`` (64 MiB; a larger body is an
error result instead of a worker out of memory), ``verify`` (TLS verification, default true) and
``auth`` ``{type: bearer|basic|api_key|none, credential?, token?, username?, password?, header?}``, whose
secret values come from ``context.secrets`` by ``credential`` alias (see :mod:`noetl_worker.tools.auth`).

Requests go through :func:`~noetl_worker.tools._httpclient.third_party_client` (never the control-plane
client in ``context.http``: its headers carry the control plane's token).

Result: success iff 2xx, else status error ``HTTP <code> response``; ``data`` is ``{status_code, headers,
body, data}`` (``data`` repeats the parsed body: playbooks read ``step.data.data``). A timeout is status
``timeout``; a transport failure (refused connection, DNS, TLS) raises ``HTTP error: …``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import ConfigReader, describe, render_config
from noetl_worker.tools._httpclient import third_party_client
from noetl_worker.tools._redact import redact
from noetl_worker.tools.base import ToolContext, ToolError, ToolResult, ToolStatus

__all__ = ["HttpTool"]

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
RESPONSE_TYPES = frozenset({"json", "text", "binary"})
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class HttpTool:
    kind: ClassVar[str] = "http"

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def _shared_client(self) -> httpx.AsyncClient:
        if self._client is None:
            # One pooled client per process (keep-alive across commands); closed by aclose().
            self._client = third_party_client()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        url = cfg.text("url")
        if not url.startswith(("http://", "https://")):
            raise cfg.error("url", "must be an absolute http:// or https:// URL")
        method = cfg.text("method", "GET").upper()
        if method not in METHODS:
            raise cfg.error("method", f"unsupported method {method!r}; expected one of {', '.join(sorted(METHODS))}")
        response_type = cfg.text("response_type", "json").lower()
        if response_type not in RESPONSE_TYPES:
            raise cfg.error("response_type", "expected json, text or binary")
        timeout_key = cfg.first_key("timeout_seconds", "timeout") or "timeout_seconds"
        timeout = min(cfg.number(timeout_key, DEFAULT_TIMEOUT_SECONDS, minimum=0.001), context.remaining())
        follow_redirects = cfg.boolean("follow_redirects", True)
        max_redirects = cfg.integer("max_redirects", 20, minimum=0)
        max_bytes = cfg.integer("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES, minimum=0)
        headers = _checked_headers(cfg)
        params = cfg.str_map("params")
        headers.update(_auth_headers(cfg, context))
        body_kwargs = _body(cfg)

        # TLS verification is per client in httpx, so an opted-out step gets its own short-lived client.
        owned = None if cfg.boolean("verify", True) else third_party_client(verify=False)
        client = owned or self._shared_client()
        try:
            request = client.build_request(
                method, url, headers=headers, params=params, timeout=httpx.Timeout(timeout), **body_kwargs
            )
            response, content = await _send(
                client, request, follow_redirects=follow_redirects, max_redirects=max_redirects, max_bytes=max_bytes
            )
        except httpx.TimeoutException:
            return ToolResult(
                ToolStatus.TIMEOUT,
                error=f"Execution timed out after {timeout:g} seconds",
                duration_ms=_ms(started),
                exit_code=1,
            )
        except _TooLarge as exc:
            return ToolResult.failure(str(exc), exit_code=1, duration_ms=_ms(started))
        except httpx.InvalidURL as exc:
            raise cfg.error("url", f"invalid URL: {exc}") from None
        except httpx.HTTPError as exc:
            detail = redact(str(exc), context.secrets)
            raise ToolError(f"HTTP error: {method} {_redact_url(url)}: {type(exc).__name__}: {detail}") from None
        finally:
            if owned is not None:
                await owned.aclose()

        data = _response_data(response, content, response_type)
        ok = response.is_success
        return ToolResult(
            ToolStatus.SUCCESS if ok else ToolStatus.ERROR,
            data=data,
            error=None if ok else f"HTTP {response.status_code} response",
            exit_code=0 if ok else 1,
            duration_ms=_ms(started),
        )


class _TooLarge(Exception):
    """The response body exceeded ``max_response_bytes``."""


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, *, follow_redirects: bool, max_redirects: int, max_bytes: int
) -> tuple[httpx.Response, bytes]:
    """Send, following redirects under the step's own limit, and read at most ``max_bytes`` of the body."""
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        hops = 0
        while follow_redirects and response.next_request is not None:
            if hops >= max_redirects:
                raise httpx.TooManyRedirects(f"more than {max_redirects} redirects", request=request)
            next_request = response.next_request
            await response.aclose()
            response = await client.send(next_request, stream=True, follow_redirects=False)
            hops += 1
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise _TooLarge(f"HTTP response body larger than {max_bytes} bytes (max_response_bytes)")
        return response, bytes(body)
    finally:
        await response.aclose()


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _checked_headers(cfg: ConfigReader) -> dict[str, str]:
    """``headers`` as text; a name that is not an HTTP token or a value with a line break (a templated value
    trying to smuggle in another header) is a configuration error naming the header."""
    headers = cfg.str_map("headers")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise cfg.error(f"headers.{name}", "not a valid HTTP header name")
        if any(ch in value for ch in "\r\n\0"):
            raise cfg.error(f"headers.{name}", "value contains a line break or NUL")
    return headers


def _body(cfg: ConfigReader) -> dict[str, Any]:
    if "json" in cfg.data and cfg.data["json"] is not None:
        return {"json": cfg.data["json"]}
    if cfg.has("form"):
        return {"data": cfg.str_map("form")}
    if cfg.has("body"):
        body = cfg.data["body"]
        if isinstance(body, str):
            return {"content": body.encode()}
        return {"json": body}
    return {}


def _auth_headers(cfg: ConfigReader, context: ToolContext) -> dict[str, str]:
    raw = cfg.data.get("auth")
    if raw is None:
        return {}
    if isinstance(raw, str):
        raise cfg.error("auth", "an unresolved credential alias (the executor resolves string aliases first)")
    if not isinstance(raw, dict):
        raise cfg.error("auth", f"expected an object, got {describe(raw)}")
    auth = cfg.sub("auth")
    kind = auth.text("type", "none").lower()

    def secret(fallback_key: str) -> str | None:
        alias = auth.text("credential", None)
        if alias is not None:
            if alias not in context.secrets:
                raise auth.error("credential", f"secret {alias!r} is not in the command's keychain")
            return context.secrets[alias]
        return auth.text(fallback_key, None, allow_empty=True)

    if kind == "none":
        return {}
    if kind == "bearer":
        token = secret("token")
        if token is None:
            raise auth.error("token", "required for bearer auth (or credential)")
        return {"Authorization": f"Bearer {token}"}
    if kind == "basic":
        username = auth.text("username", allow_empty=True)
        password = secret("password") or ""
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {encoded}"}
    if kind == "api_key":
        value = secret("token")
        if value is None:
            raise auth.error("token", "required for api_key auth (or credential)")
        return {auth.text("header", "X-API-Key"): value}
    raise auth.error("type", f"unsupported auth type {kind!r}; expected bearer, basic, api_key or none")


def _response_data(response: httpx.Response, content: bytes, response_type: str) -> JSONObject:
    body: JSONValue
    if response_type == "binary":
        body = {"base64": base64.b64encode(content).decode("ascii"), "size": len(content)}
    else:
        try:
            text = content.decode(response.charset_encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            text = content.decode("utf-8", errors="replace")
        body = text
        if response_type == "json" and text:
            try:
                body = json.loads(text)
            except ValueError:
                body = text
    headers: dict[str, JSONValue] = {}
    for name, value in response.headers.multi_items():
        headers[name.lower()] = value  # last value wins, as in the reference
    return {"status_code": response.status_code, "headers": headers, "body": body, "data": body}


def _redact_url(url: str) -> str:
    """The URL without userinfo and query (either may carry credentials) for error messages."""
    try:
        return str(httpx.URL(url).copy_with(userinfo=b"", query=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return url.split("?", 1)[0].rpartition("@")[2]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
