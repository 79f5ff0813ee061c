"""The worker's HTTP client for the NoETL control plane: one pooled aiohttp session per process.

Every per-command call goes to the ``server_url`` of the command's NATS pointer (that is the server that
published it); registry calls go to ``NOETL_SERVER_URL``. The claim maps the server's answers onto a
:class:`ClaimOutcome` the runtime turns into ack / nak / term. Event batches are retried with backoff and
jitter under one ``Idempotency-Key`` until a deadline, and fall back to ``POST /api/events`` one by one when
a server has no batch route.

The transport is aiohttp, not httpx (which the tools keep using): on every request httpcore's pool rescans
every connection (``_assign_requests_to_connections``, an ``is_idle``/``has_expired`` poll per connection),
which at 32 slots cost about 2.9 ms of CPU per request on the benchmark machine against 0.3 ms for
aiohttp's per-host pool, the same request and server (``docs/architecture.md``, "Control-plane transport").
Bodies are encoded once here (compact JSON bytes) and sent as they are.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson
from noetl_wire.commands import ClaimedCommand, ClaimRequest, Locality
from noetl_wire.errors import ErrorCode
from noetl_wire.events import BatchEvent, BatchEventRequest, EventRequest
from noetl_wire.results import ResultPutRequest
from noetl_wire.snowflake import SnowflakeGenerator
from noetl_wire.urls import api_url
from noetl_wire.variables import SetVariablesRequest
from noetl_wire.workers import DeregisterRequest, HeartbeatRequest, WorkerRegistration
from pydantic import ValidationError

from noetl_worker.control_plane.retry import Backoff, is_transient_status, retry_after_of
from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.runtime.metrics import WorkerMetrics

__all__ = [
    "BoundControlPlane",
    "ClaimOutcome",
    "ClaimStatus",
    "ControlPlaneClient",
    "ControlPlaneError",
    "EncodedJSON",
    "Event",
    "encode_batch",
    "endpoint_of",
    "event_object",
]

log = logging.getLogger("noetl_worker.control_plane")

# Retry warnings go to the caller's logger when it has one, so they carry the command's ids.
Logger = logging.Logger | logging.LoggerAdapter[Any]

# Label values of the common answers, so counting a request formats no string.
_STATUS_TEXT = {code: str(code) for code in (200, 201, 204, 404, 409, 422, 429, 500, 502, 503, 504)}

# A 500 may be a persistent contract violation rather than an outage: retry it a few times only.
_MAX_INTERNAL_ERROR_RETRIES = 3


class ControlPlaneError(OSError):
    """A control-plane call failed. ``transient`` says whether trying again later may succeed.

    An ``OSError`` so that tools treating network failures alike need no import of this module."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


@dataclass(frozen=True, slots=True)
class EncodedJSON:
    """A JSON value already serialised (compact UTF-8), sent as is: a large result is encoded only once, in
    the thread where it was scrubbed and measured, instead of again on the event loop."""

    content: bytes


Event = BatchEvent | Mapping[str, Any]
"""An event of a batch: a :class:`BatchEvent`, or the JSON object it serialises to (the executor builds those
directly, ``executor/lifecycle.py``)."""

# orjson writes what pydantic's serialiser writes for JSON values (compact, UTF-8, shortest floats, NaN and
# infinities as null); anything else — dates, dataclasses, Decimal, bytes, integers beyond 64 bits, keys that
# are not strings — is refused here and encoded by the models instead, so no value changes its spelling.
_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _refuse(value: object) -> object:
    raise TypeError(type(value).__name__)


def event_object(event: Event) -> Mapping[str, Any]:
    """The JSON object of one batch event, as ``BatchEvent.model_dump_json(exclude_none=True)`` writes it."""
    return event.model_dump(exclude_none=True) if isinstance(event, BatchEvent) else event


def encode_batch(execution_id: int, worker_id: str, events: Sequence[Mapping[str, Any]]) -> bytes:
    """The body of ``POST /api/events/batch``, byte for byte what ``BatchEventRequest.model_dump_json(exclude_none=
    True)`` writes for the same events, encoded once with orjson (through the models only for values orjson
    does not take as JSON)."""
    body = {"execution_id": str(execution_id), "worker_id": worker_id, "events": events}
    try:
        return orjson.dumps(body, default=_refuse, option=_ORJSON_STRICT)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        request = BatchEventRequest(
            execution_id=execution_id, worker_id=worker_id, events=[BatchEvent.model_validate(e) for e in events]
        )
        return request.model_dump_json(exclude_none=True).encode()


def _put_result_body(name: str, data: EncodedJSON) -> bytes:
    envelope = ResultPutRequest(name=name, data=None, source_step=name).model_dump(mode="json", exclude_none=True)
    envelope.pop("data", None)
    head = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    return b"".join((head[:-1], b',"data":', data.content, b"}"))  # the envelope is a non-empty object


class ClaimStatus(enum.Enum):
    """What a claim attempt means for the NATS message that announced the command."""

    CLAIMED = "claimed"
    """We hold the command: run it."""
    TERMINAL = "already_terminal"
    """The command (or its execution) is finished: nothing to do."""
    HELD = "active_claim"
    """Someone holds a live claim (``holder`` says who, when the server says)."""
    NOT_FOUND = "not_found"
    """The server has no such command: the pointer can never succeed."""
    REJECTED = "rejected"
    """The server refused our request (a 4xx other than 404/409): our configuration, not the message."""
    MALFORMED = "malformed"
    """The claim succeeded but the command does not decode; ``raw`` holds the body to report the failure."""
    UNAVAILABLE = "unavailable"
    """Transport failure, overload or a server error: try again later."""


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    status: ClaimStatus
    command: ClaimedCommand | None = None
    holder: str | None = None
    retry_after: float | None = None
    detail: str = ""
    raw: Any = None


# Failures of the request itself (no HTTP answer): connection refused or reset, timeouts, a closed session.
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer, fully read: status, headers and body."""

    status_code: int
    headers: Mapping[str, str]  # aiohttp's, case-insensitive
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def _detail(response: Reply) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return body.get("detail", body) if isinstance(body, dict) else body


def _describe(response: Reply) -> str:
    return f"HTTP {response.status_code}: {str(_detail(response))[:500]}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = urlsplit(url)
    scheme = parsed.scheme.lower()
    return scheme, (parsed.hostname or "").lower(), parsed.port or {"http": 80, "https": 443}.get(scheme)


def encode_body(value: Any) -> bytes:
    """Compact UTF-8 JSON, as httpx's ``json=`` encodes (NaN and Infinity refused with a ``ValueError``)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


_JSON_HEADERS = {"Content-Type": "application/json"}


def endpoint_of(path: str) -> str:
    """The metric label of a control-plane API path (a fixed, small set: ids never become labels)."""
    if path.endswith("/claim"):
        return "claim"
    if path.startswith("events"):
        return "events_batch" if path == "events/batch" else "events"
    if path == "result/resolve":
        return "result_resolve"
    head, _, rest = path.partition("/")
    if head == "worker":
        return rest.removeprefix("pool/") if rest in _REGISTRY else "other"
    return head if head in _PER_COMMAND else "other"


_REGISTRY = frozenset({"pool/register", "pool/heartbeat", "pool/deregister"})
_PER_COMMAND = frozenset({"result", "vars", "credentials"})


class ControlPlaneClient:
    """Async control-plane client. Create once per process; ``aclose()`` at shutdown."""

    def __init__(
        self,
        *,
        worker_id: str,
        server_url: str,
        metrics: WorkerMetrics,
        timeout: float = 30.0,
        token: str | None = None,
        token_origins: Sequence[str] = (),  # trusted besides server_url
        locality: Mapping[str, str] | None = None,
        max_connections: int = 64,
        snowflakes: SnowflakeGenerator | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        # The token is scoped to trusted origins: per-command calls go to whatever server_url a pointer
        # names, and anyone able to publish on the command subject must not be able to harvest it.
        self._bearer = f"Bearer {token}" if token else None
        self._trusted = frozenset(_origin(url) for url in (server_url, *token_origins))
        self.worker_id = worker_id
        self.server_url = server_url
        self.metrics = metrics
        self.backoff = backoff or Backoff()
        self._locality = Locality.model_validate(dict(locality or {})) if locality else None
        self._snowflakes = snowflakes or SnowflakeGenerator.for_worker(worker_id)
        self._no_batch_route: set[str] = set()
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        # Per server_url: the headers every request carries (the token only for trusted origins) and the
        # proxy from the environment (as httpx's trust_env did), worked out once rather than per request.
        self._per_server: dict[str, tuple[dict[str, str], str | None]] = {}
        self._claim_body = encode_body(
            ClaimRequest(worker_id=worker_id, locality=self._locality).model_dump(mode="json", exclude_none=True)
        )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _server(self, server_url: str) -> tuple[dict[str, str], str | None]:
        known = self._per_server.get(server_url)
        if known is None:
            headers: dict[str, str] = {}
            if self._bearer is not None and _origin(server_url) in self._trusted:
                headers["Authorization"] = self._bearer
            known = (headers, _env_proxy(server_url))
            if len(self._per_server) < 1024:  # server_urls come from messages: bound what they can make us keep
                self._per_server[server_url] = known
        return known

    async def request(
        self,
        method: str,
        server_url: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Reply:
        """One request to ``{server_url}/api/{path}``, its answer fully read. Raises the transport's errors
        (``aiohttp.ClientError``, ``asyncio.TimeoutError``, ``OSError``), ``aiohttp.InvalidURL`` first."""
        session = self._session
        if session is None:
            # Created on first use: a session belongs to the running event loop.
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
            session = self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, raise_for_status=False, auto_decompress=True
            )
        base_headers, proxy = self._server(server_url)
        if headers:
            base_headers = {**base_headers, **headers}
        url = api_url(server_url, path)
        if params:
            url = f"{url}?{urlencode(params)}"
        started = time.perf_counter()
        try:
            async with session.request(method, url, data=content, headers=base_headers, proxy=proxy) as response:
                body = await response.read()
        except BaseException:
            self.metrics.control_plane_request(endpoint_of(path), "unreachable", time.perf_counter() - started)
            raise
        status = response.status
        self.metrics.control_plane_request(
            endpoint_of(path), _STATUS_TEXT.get(status) or str(status), time.perf_counter() - started
        )
        return Reply(status, response.headers, body)

    def bound(self, server_url: str | None) -> BoundControlPlane:
        """The :class:`~noetl_worker.tools.base.ControlPlaneAccess` view for one command's server."""
        return BoundControlPlane(self, server_url or self.server_url)

    # --- claim ----------------------------------------------------------------------------------------
    async def claim(self, server_url: str, event_id: int) -> ClaimOutcome:
        """``POST /api/commands/{event_id}/claim`` once; never raises."""
        try:
            response = await self.request(
                "POST", server_url, f"commands/{event_id}/claim", content=self._claim_body, headers=_JSON_HEADERS
            )
        except (aiohttp.InvalidURL, ValueError) as exc:
            return ClaimOutcome(ClaimStatus.REJECTED, detail=f"invalid server_url {server_url!r}: {exc}")
        except _TRANSPORT_ERRORS as exc:
            self.metrics.labelled(self.metrics.claims, "unreachable").inc()
            return ClaimOutcome(ClaimStatus.UNAVAILABLE, detail=f"control plane unreachable: {type(exc).__name__}")
        status = response.status_code
        self.metrics.labelled(self.metrics.claims, _STATUS_TEXT.get(status) or str(status)).inc()
        if status in (200, 201):
            try:
                command = ClaimedCommand.model_validate_json(response.content)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)[:5]
                )
                try:
                    raw = response.json()
                except ValueError:
                    raw = None
                return ClaimOutcome(
                    ClaimStatus.MALFORMED, detail=f"claimed command does not decode: {problems}", raw=raw
                )
            return ClaimOutcome(ClaimStatus.CLAIMED, command=command)
        retry_after = retry_after_of(response)
        detail = _detail(response)
        if status == 409:
            code = detail.get("code") if isinstance(detail, dict) else None
            if code == ErrorCode.ALREADY_TERMINAL:
                return ClaimOutcome(ClaimStatus.TERMINAL, detail=str(detail))
            holder = detail.get("worker_id") if isinstance(detail, dict) else None
            return ClaimOutcome(
                ClaimStatus.HELD,
                holder=holder if isinstance(holder, str) else None,
                retry_after=retry_after,
                detail=str(detail),
            )
        if status == 404:
            return ClaimOutcome(ClaimStatus.NOT_FOUND, detail=_describe(response))
        if status in (401, 403):
            return ClaimOutcome(
                ClaimStatus.REJECTED, detail=f"{_describe(response)} — the control plane refused our credentials "
                "(NOETL_API_TOKEN)",
            )  # fmt: skip
        if is_transient_status(status) or status >= 500:
            return ClaimOutcome(ClaimStatus.UNAVAILABLE, retry_after=retry_after, detail=_describe(response))
        return ClaimOutcome(ClaimStatus.REJECTED, detail=_describe(response))

    # --- events ---------------------------------------------------------------------------------------
    async def post_batch(
        self,
        server_url: str,
        execution_id: int,
        events: Sequence[Event],
        *,
        deadline: float,
        idempotency_key: str | None = None,
        logger: Logger | None = None,
    ) -> None:
        """Deliver ``events`` as one batch, retrying transient failures until ``deadline`` (monotonic).

        One ``Idempotency-Key`` (``<worker_id>:<execution_id>:<32 random hex digits>``) covers every retry, so a batch
        the server accepted but whose response was lost is not recorded twice. Raises
        :class:`ControlPlaneError` when the server refuses the batch or the deadline passes.
        """
        # 128 random bits, as a uuid4's hex (without building a UUID object: a fifth of the cost).
        key = idempotency_key or f"{self.worker_id}:{execution_id}:{os.urandom(16).hex()}"
        objects = [event_object(event) for event in events]
        if server_url in self._no_batch_route:
            await self._post_singles(server_url, execution_id, objects, deadline=deadline, logger=logger)
            return
        payload = encode_batch(execution_id, self.worker_id, objects)
        started = time.perf_counter()
        response = await self._send(
            "POST", server_url, "events/batch", content=payload,
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
            deadline=deadline, what="event batch", fallthrough=(404,), logger=logger,
        )  # fmt: skip
        if response.status_code == 404:
            log.warning(
                "control plane has no /api/events/batch route; sending events one by one",
                extra={"server_url": server_url},
            )
            self._no_batch_route.add(server_url)
            await self._post_singles(server_url, execution_id, objects, deadline=deadline, logger=logger)
            return
        elapsed = time.perf_counter() - started
        metrics = self.metrics
        for event in objects:
            metrics.labelled(metrics.event_emit_duration, event["name"]).observe(elapsed)

    async def _post_singles(
        self,
        server_url: str,
        execution_id: int,
        events: Sequence[Mapping[str, Any]],
        *,
        deadline: float,
        logger: Logger | None = None,
    ) -> None:
        for event in events:
            started = time.perf_counter()
            name = str(event["name"])
            body = EventRequest(
                execution_id=execution_id,
                step=event["step"],
                name=name,
                payload=event.get("payload", {}),
                meta=event.get("meta"),
                worker_id=self.worker_id,
                actionable=event.get("actionable", False),
                informative=event.get("informative", True),
            ).model_dump(mode="json", exclude_none=True)
            # The seed stamps every single event with a snowflake it minted; servers ignore it or dedupe on it.
            body["event_id"] = self._snowflakes.next_id()
            await self._send("POST", server_url, "events", json=body, deadline=deadline, what=name, logger=logger)
            self.metrics.event_emit_duration.labels(event_type=name).observe(time.perf_counter() - started)

    async def _send(
        self,
        method: str,
        server_url: str,
        path: str,
        *,
        deadline: float,
        what: str,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        fallthrough: tuple[int, ...] = (),
        logger: Logger | None = None,
    ) -> Reply:
        """Send with retries until ``deadline``; return the first 2xx (or ``fallthrough``) response."""
        if json is not None:
            content, headers = encode_body(json), {**(headers or {}), **_JSON_HEADERS}
        attempt = 0
        internal_errors = 0
        while True:
            retry_after: float | None = None
            try:
                response = await self.request(method, server_url, path, content=content, headers=headers)
            except _TRANSPORT_ERRORS as exc:
                problem = f"{what}: control plane unreachable ({type(exc).__name__}: {exc})"
                status: int | None = None
            else:
                status = response.status_code
                if 200 <= status < 300 or status in fallthrough:
                    return response
                problem = f"{what}: {_describe(response)}"
                retry_after = retry_after_of(response)
                if status == 500 and internal_errors < _MAX_INTERNAL_ERROR_RETRIES:
                    internal_errors += 1
                elif not is_transient_status(status):
                    raise ControlPlaneError(problem, status=status, transient=False)
            delay = self.backoff.delay(attempt, retry_after)
            if time.monotonic() + delay > deadline:
                raise ControlPlaneError(
                    f"{problem}; gave up after {attempt + 1} attempts", status=status, transient=True
                )
            attempt += 1
            self.metrics.event_emit_retries.labels(event_type=what).inc()
            (logger or log).warning(f"{problem}; retrying in {delay:.2f}s", extra={"attempt": attempt})
            await asyncio.sleep(delay)

    # --- variables and results ------------------------------------------------------------------------
    async def set_variables(
        self, server_url: str, execution_id: int, variables: JSONObject, *, source_step: str | None, deadline: float
    ) -> None:
        body = SetVariablesRequest.model_validate({"variables": variables, "source_step": source_step})
        await self._send(
            "POST", server_url, f"vars/{execution_id}", json=body.model_dump(mode="json", exclude_none=True),
            deadline=deadline, what="set variables",
        )  # fmt: skip

    async def put_result(
        self, server_url: str, execution_id: int, name: str, data: JSONValue | EncodedJSON
    ) -> JSONObject:
        path = f"result/{execution_id}"
        deadline = time.monotonic() + 30.0
        started = time.perf_counter()
        if isinstance(data, EncodedJSON):
            content = _put_result_body(name, data)
        else:
            content = encode_body(
                ResultPutRequest(name=name, data=data, source_step=name).model_dump(mode="json", exclude_none=True)
            )
        try:
            response = await self._send(
                "PUT", server_url, path, content=content, headers=_JSON_HEADERS, deadline=deadline, what="put result"
            )
        except ControlPlaneError:
            self.metrics.result_store_put_errors.inc()
            raise
        self.metrics.result_store_put_duration.observe(time.perf_counter() - started)
        self.metrics.result_store_put_bytes.inc(len(content))
        reply = response.json()
        if not isinstance(reply, dict):
            raise ControlPlaneError(f"put result: unexpected response {str(reply)[:200]}")
        return reply

    async def resolve_result(self, server_url: str, ref: str) -> JSONValue:
        try:
            response = await self.request("GET", server_url, "result/resolve", params={"ref": ref})
        except _TRANSPORT_ERRORS as exc:
            raise ControlPlaneError(
                f"resolve result {ref}: control plane unreachable ({exc})", transient=True
            ) from None
        if response.status_code == 404:
            raise LookupError(f"result reference not found: {ref}")
        if response.status_code != 200:
            raise ControlPlaneError(f"resolve result {ref}: {_describe(response)}", status=response.status_code)
        value: JSONValue = response.json()
        return value

    async def get_credential(self, server_url: str, name: str, execution_id: int | None) -> JSONObject | None:
        params: dict[str, str | int] = {"include_data": "true"}
        if execution_id is not None:
            params["execution_id"] = execution_id
        try:
            response = await self.request("GET", server_url, f"credentials/{name}", params=params)
        except _TRANSPORT_ERRORS as exc:
            raise ControlPlaneError(f"get_credential('{name}'): control plane unreachable ({exc})") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ControlPlaneError(f"get_credential('{name}') failed: {_describe(response)}")
        body = response.json()
        if not isinstance(body, dict):
            raise ControlPlaneError(f"get_credential('{name}'): response is not an object")
        return body

    # --- registry -------------------------------------------------------------------------------------
    async def register(self, registration: WorkerRegistration, *, deadline: float) -> None:
        await self._send(
            "POST", self.server_url, "worker/pool/register",
            json=registration.model_dump(mode="json", exclude_none=True), deadline=deadline, what="register",
        )  # fmt: skip

    async def heartbeat(self, registration: WorkerRegistration) -> str:
        """One heartbeat (no retries: the next tick is the retry). Returns the server's ``status``."""
        body = HeartbeatRequest(name=registration.name, registration=registration)
        try:
            response = await self.request(
                "POST", self.server_url, "worker/pool/heartbeat",
                content=encode_body(body.model_dump(mode="json", exclude_none=True)), headers=_JSON_HEADERS,
            )  # fmt: skip
        except _TRANSPORT_ERRORS as exc:
            raise ControlPlaneError(
                f"heartbeat: control plane unreachable ({type(exc).__name__})", transient=True
            ) from None
        if response.status_code == 404:
            # The registry forgot us (server restart, sweeper): register again so claims stay protected.
            await self.register(registration, deadline=time.monotonic() + 5.0)
            return "re-registered"
        if response.status_code != 200:
            raise ControlPlaneError(f"heartbeat: {_describe(response)}", status=response.status_code)
        reply = response.json()
        return str(reply.get("status", "ok")) if isinstance(reply, dict) else "ok"

    async def deregister(self, name: str, *, deadline: float) -> None:
        body = DeregisterRequest(name=name, component_type="worker_pool").model_dump(mode="json", exclude_none=True)
        await self._send(
            "POST", self.server_url, "worker/pool/deregister", json=body, deadline=deadline, what="deregister"
        )


def _env_proxy(server_url: str) -> str | None:
    """The proxy the environment names for ``server_url`` (``HTTP(S)_PROXY`` less ``NO_PROXY``), or None."""
    parts = urlsplit(server_url)
    proxy = urllib.request.getproxies().get(parts.scheme.lower())
    if proxy is None or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


@dataclass(frozen=True, slots=True)
class BoundControlPlane:
    """The control-plane slice tools may use, bound to the server of one command."""

    client: ControlPlaneClient
    server_url: str

    async def resolve_result(self, ref: str) -> JSONValue:
        return await self.client.resolve_result(self.server_url, ref)

    async def put_result(self, execution_id: int, name: str, data: JSONValue | EncodedJSON) -> JSONObject:
        return await self.client.put_result(self.server_url, execution_id, name, data)

    async def get_credential(self, name: str, execution_id: int | None = None) -> JSONObject | None:
        return await self.client.get_credential(self.server_url, name, execution_id)
