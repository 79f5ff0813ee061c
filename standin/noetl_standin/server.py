"""Run the stand-in inside the current event loop: ``async with StandinServer(settings) as server``.

Used by the worker's dev mode and by tests or benchmarks that want the stand-in in-process (tests
that exercise a worker should prefer the subprocess launcher so the two never share a loop). Port 0
binds a free port; ``server.url`` is the address actually bound, and pointers carry it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator
from types import TracebackType

import uvicorn

from noetl_standin.app import build_app
from noetl_standin.core import ControlPlane, StandinStartError
from noetl_standin.settings import StandinSettings
from noetl_standin.store import Store

__all__ = ["StandinServer", "StandinStartError", "uvicorn_config"]

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the host process owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def uvicorn_config(app: object, settings: StandinSettings) -> uvicorn.Config:
    """The uvicorn configuration both entry points use (httptools parser, no access log by default)."""
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        http="httptools",
        lifespan="on",
        access_log=settings.access_log,
        log_level=settings.log_level,
        timeout_graceful_shutdown=2,
        backlog=4096,
    )


class StandinServer:
    """An in-process stand-in control plane bound to ``settings.host:settings.port``."""

    def __init__(self, settings: StandinSettings | None = None, *, store: Store | None = None) -> None:
        self.settings = settings or StandinSettings(port=0)
        self.plane = ControlPlane(self.settings, store)
        self._server = _EmbeddedServer(uvicorn_config(build_app(self.plane, manage_plane=False), self.settings))
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:41234``."""
        return self.plane.server_url()

    async def start(self) -> None:
        """Connect NATS, then serve HTTP; raise ``StandinStartError`` saying what failed."""
        await self.plane.start()
        self._task = asyncio.create_task(self._serve(), name="standin-http")
        while not self._server.started:
            if self._task.done():
                error = self._task.exception() if not self._task.cancelled() else None
                await self.plane.stop()
                raise StandinStartError(
                    f"stand-in failed to serve HTTP on {self.settings.host}:{self.settings.port}: "
                    f"{error or 'see the log above'}"
                )
            await asyncio.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        host, port = sockets[0].getsockname()[:2]
        self.plane.bind(self.settings.host if self.settings.host not in ("0.0.0.0", "::") else host, port)  # noqa: S104

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit as exc:  # uvicorn exits the process on bind errors; we must not
            raise StandinStartError(f"uvicorn stopped with exit code {exc.code}") from None

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(StandinStartError, asyncio.CancelledError):
            await self._task
        self._task = None
        await self.plane.stop()

    async def __aenter__(self) -> StandinServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
