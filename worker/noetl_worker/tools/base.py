"""The tool interface: what one tool kind receives, what it returns, and how kinds are looked up.

A worker runs exactly one tool per command. The executor builds a :class:`ToolContext` (identity of the
command, secrets, the render context, a deadline, and narrow handles to shared resources), looks the
kind up in a :class:`ToolRegistry` and awaits ``tool.run(config, context)``.

Tools report *expected* failures (HTTP 500 from a peer, SQL errors, non-zero exit codes) as a
:class:`ToolResult` with ``status=error``; they raise :class:`ToolConfigError` for a malformed config
(the message names the key) and let the executor turn any other exception into ``call.error``.
Deadlines: the executor cancels the tool when the command's deadline passes; tools that own processes or
connections must clean them up on ``asyncio.CancelledError`` and should pass ``context.remaining()`` to
their peers as a timeout.
"""

from __future__ import annotations

import enum
import importlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from noetl_worker.jsontypes import JSONObject, JSONValue

if TYPE_CHECKING:
    import logging

__all__ = [
    "ControlPlaneAccess",
    "Tool",
    "ToolConfigError",
    "ToolContext",
    "ToolError",
    "ToolNotFoundError",
    "ToolRegistry",
    "ToolResult",
    "ToolStatus",
]


class ToolStatus(enum.StrEnum):
    """Outcome of one tool run, as the seed's ``ToolResult.status`` spells it."""

    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass(slots=True)
class ToolResult:
    """What a tool returns. ``data`` is JSON; ``table`` optionally carries a ``pyarrow.Table`` for large
    tabular results, which the executor's result budget encodes as Arrow IPC instead of JSON rows."""

    status: ToolStatus
    data: JSONValue = None
    error: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    exit_code: int | None = None
    duration_ms: int | None = None
    table: Any = None

    @property
    def ok(self) -> bool:
        return self.status is ToolStatus.SUCCESS

    @classmethod
    def success(cls, data: JSONValue = None, **extra: Any) -> ToolResult:
        return cls(ToolStatus.SUCCESS, data=data, **extra)

    @classmethod
    def failure(cls, error: str, data: JSONValue = None, **extra: Any) -> ToolResult:
        return cls(ToolStatus.ERROR, data=data, error=error, **extra)

    def to_json(self) -> JSONObject:
        """The seed's ToolResult JSON: ``None`` fields omitted."""
        out: JSONObject = {"status": self.status.value}
        for key in ("data", "error", "stdout", "stderr", "exit_code", "duration_ms"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class ToolError(Exception):
    """A tool failed in a way it could not express as a ToolResult (the executor emits ``call.error``)."""


class ToolConfigError(ToolError):
    """The tool config is malformed. The message names the offending key, e.g. ``http.url: required``."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Configuration error: {message}")


class ToolNotFoundError(ToolError):
    """No tool is registered for the command's kind."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"Tool not found: {kind}")
        self.kind = kind


@runtime_checkable
class ControlPlaneAccess(Protocol):
    """The slice of the control-plane client that tools may use (result store and credentials).

    Implemented by the worker's control-plane client; tools never see the NATS transport.
    """

    async def resolve_result(self, ref: str) -> JSONValue:
        """``GET /api/result/resolve?ref=`` — the stored JSON value; raises ``LookupError`` on 404."""
        ...

    async def put_result(self, execution_id: int, name: str, data: JSONValue) -> JSONObject:
        """``PUT /api/result/{execution_id}`` — returns the reference response (``ref``, ``store``, ...)."""
        ...

    async def get_credential(self, name: str, execution_id: int | None = None) -> JSONObject | None:
        """``GET /api/credentials/{name}?include_data=true`` — the credential object, or None on 404."""
        ...


@dataclass(slots=True)
class ToolContext:
    """Everything a tool may know about the command it runs.

    ``secrets`` holds keychain values (env allow-list plus resolved auth aliases) by name; tools read them
    but never log them. ``variables`` is the command's render context. ``deadline`` is a
    ``time.monotonic()`` instant after which the executor cancels the run. There is deliberately no
    handle to the worker's control-plane HTTP client here: its default headers carry the control plane's
    bearer token, so tools that call third-party URLs (``http``, ``mcp``) use their own client
    (``tools/_httpclient.py``) and reach the control plane only through ``control_plane``.
    """

    execution_id: int
    step: str
    command_id: int | str
    worker_id: str
    server_url: str
    deadline: float
    secrets: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, JSONValue] = field(default_factory=dict)
    input: Mapping[str, JSONValue] = field(default_factory=dict)
    control_plane: ControlPlaneAccess | None = None
    registry: ToolRegistry | None = None
    logger: logging.LoggerAdapter[Any] | None = None
    # Tools that resolve credentials of their own (task_sequence's per-task ``auth``) report the secret
    # values here, so the executor scrubs them from everything the command emits, like its own aliases.
    secret_sink: Callable[[Iterable[str]], None] | None = None

    def add_secrets(self, values: Iterable[str]) -> None:
        """Make ``values`` secrets of this command: scrubbed from its events, results and logs."""
        if self.secret_sink is not None:
            self.secret_sink(values)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


class Tool(Protocol):
    """One tool kind. Implementations are small classes registered under ``kind``."""

    kind: ClassVar[str]

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult: ...


ToolFactory = Callable[[], Tool]


class ToolRegistry:
    """Kinds to tools. Heavy tools register lazily as ``"module:Class"`` so that an idle worker never
    imports duckdb, asyncpg or pyarrow (idle RSS is a benchmark target)."""

    def __init__(self) -> None:
        self._factories: dict[str, ToolFactory | str] = {}
        self._instances: dict[str, Tool] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def register(self, kind: str, factory: ToolFactory | str) -> None:
        """Register ``factory`` (a callable, or ``"package.module:ClassName"`` imported on first use)."""
        self._factories[kind] = factory
        self._instances.pop(kind, None)

    def kinds(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, kind: object) -> bool:
        return kind in self._factories

    def get(self, kind: str) -> Tool:
        """The tool for ``kind``; raises :class:`ToolNotFoundError` (``Tool not found: <kind>``)."""
        tool = self._instances.get(kind)
        if tool is not None:
            return tool
        factory = self._factories.get(kind)
        if factory is None:
            raise ToolNotFoundError(kind)
        if isinstance(factory, str):
            module_name, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module_name), attr)
        assert callable(factory)
        tool = factory()
        self._instances[kind] = tool
        closer = getattr(tool, "aclose", None)
        if closer is not None:
            self._closers.append(closer)
        return tool

    async def aclose(self) -> None:
        """Release pools and connections held by instantiated tools (called once at worker shutdown)."""
        closers, self._closers = self._closers, []
        for closer in reversed(closers):
            await closer()
