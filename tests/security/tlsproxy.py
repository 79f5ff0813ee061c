"""A TLS-terminating, bearer-checking reverse proxy in front of the stand-in.

The stand-in speaks plain HTTP and checks no token; in production both are the job of the NoETL server's
ingress. This proxy plays that part for tests: it serves HTTPS with a test certificate, answers 401 to a
request without the expected ``Authorization: Bearer <token>``, forwards the rest to the stand-in, and
records every request line with whether its token was right — so a test can prove that *every* call
carried it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

__all__ = ["SeenRequest", "TlsBearerProxy", "running_tls_proxy"]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    authorized: bool


@dataclass
class TlsBearerProxy:
    port: int
    token: str
    upstream: str = ""
    seen: list[SeenRequest] = field(default_factory=list)

    tls: bool = True

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    return method, path, headers, body


def _response(status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers), f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@contextlib.asynccontextmanager
async def running_tls_proxy(context: ssl.SSLContext | None, token: str) -> AsyncIterator[TlsBearerProxy]:
    """Serve on a random loopback port; set ``proxy.upstream`` before traffic arrives.

    ``context=None`` serves plain HTTP: a stand-in for an endpoint that should never see the token.
    """
    proxy = TlsBearerProxy(port=0, token=token, tls=context is not None)
    async with httpx.AsyncClient(timeout=30) as upstream:

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while (request := await _read_request(reader)) is not None:
                    method, path, headers, body = request
                    authorized = headers.get("authorization") == f"Bearer {proxy.token}"
                    proxy.seen.append(SeenRequest(method, path, authorized))
                    if not authorized:
                        payload = b'{"detail": "missing or invalid bearer token"}'
                        writer.write(_response(401, "Unauthorized", [("content-type", "application/json")], payload))
                    else:
                        forwarded = {k: v for k, v in headers.items() if k not in _HOP_BY_HOP | {"host"}}
                        reply = await upstream.request(method, proxy.upstream + path, headers=forwarded, content=body)
                        kept = [(k, v) for k, v in reply.headers.items() if k.lower() not in _HOP_BY_HOP]
                        writer.write(_response(reply.status_code, reply.reason_phrase, kept, reply.content))
                    await writer.drain()
            except (ConnectionError, ssl.SSLError, httpx.HTTPError):
                pass  # a client that hangs up, or a stand-in that is gone: the test sees it elsewhere
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await writer.wait_closed()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
        proxy.port = server.sockets[0].getsockname()[1]
        try:
            yield proxy
        finally:
            server.close()
            await server.wait_closed()
