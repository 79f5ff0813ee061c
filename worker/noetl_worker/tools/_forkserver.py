"""The worker's side of the python tool's warm runner: one pre-started interpreter that forks per command.

``python -I _python_runner.py --serve <fd>`` is started lazily (in its own session, clean environment) and
kept for the life of the tool. For each command the worker creates three pipes, hands the child's ends to
the server over a ``SOCK_SEQPACKET`` socket, and gets back the child's pid and, later, its exit code. The
child is a fresh fork of an interpreter that has never run user code: commands stay isolated from each
other and from the worker, but skip interpreter start-up. Timeouts, cancellation and exits kill the
child's whole process group, exactly as for a cold subprocess (:mod:`noetl_worker.tools._process`).

If the server dies, its running commands fail with ``Process error: …`` and the next command starts a new
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path

import orjson

from noetl_worker.tools._process import (
    DEFAULT_MAX_OUTPUT_BYTES,
    OutputKeeper,
    ProcessOutcome,
    base_environment,
    kill_group,
)
from noetl_worker.tools.base import ToolError

__all__ = ["ForkServer"]

_CHUNK = 64 * 1024


class _ServerGone(ToolError):
    def __init__(self) -> None:
        super().__init__("Process error: the python runner process exited unexpectedly")


def _write_all(fd: int, data: bytes | memoryview) -> None:
    with contextlib.suppress(BrokenPipeError), os.fdopen(fd, "wb", buffering=0) as pipe:
        view = memoryview(data)
        while view:
            written = pipe.write(view)
            view = view[written or 0 :]


def _feed(fd: int, data: bytes) -> asyncio.Future[None] | None:
    """Write the request to the child's stdin and close it. Most requests fit the pipe buffer and are
    written at once, here (None); only the rest of a large one goes through a thread (its future)."""
    os.set_blocking(fd, False)
    try:
        sent = os.write(fd, data)
    except BlockingIOError:
        sent = 0
    except BrokenPipeError:
        os.close(fd)
        return None
    if sent == len(data):
        os.close(fd)
        return None
    os.set_blocking(fd, True)
    return asyncio.ensure_future(asyncio.to_thread(_write_all, fd, memoryview(data)[sent:]))


async def _send_request(sock: socket.socket, header: bytes, fds: list[int]) -> None:
    """One message with the child's descriptors; waits while the socket buffer is full (a burst of
    commands), which a non-blocking ``sendmsg`` reports as ``BlockingIOError``."""
    while True:
        try:
            socket.send_fds(sock, [header], fds)
            return
        except BlockingIOError:
            await asyncio.sleep(0.002)


class _Capture:
    """One of the child's output pipes, read to EOF by a reader callback on the loop — no transport, stream or
    task per pipe, which were most of the worker's own CPU for a step that returns at once."""

    __slots__ = ("_fd", "_keeper", "_loop", "done")

    def __init__(self, fd: int, limit: int, keep_from: bytes | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._fd = fd
        self._keeper = OutputKeeper(limit, keep_from)
        self.done: asyncio.Future[bytes] = self._loop.create_future()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self._fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self._keeper.feed(chunk)
            return
        self.close()
        if not self.done.done():
            self.done.set_result(self._keeper.result())

    def close(self) -> None:
        """Stop reading and close the pipe (safe to call again)."""
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1


class ForkServer:
    """A lazily started fork server for ``interpreter``; ``run`` has the contract of ``run_process``."""

    def __init__(self, interpreter: str, runner: Path) -> None:
        self._interpreter = interpreter
        self._runner = runner
        self._process: asyncio.subprocess.Process | None = None
        self._socket: socket.socket | None = None
        self._listener: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._ids = itertools.count(1)
        # request id -> (pid, exit code future); the exit future exists before the exit can be reported
        self._forked: dict[int, asyncio.Future[tuple[int, asyncio.Future[int]]]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}

    @property
    def pid(self) -> int | None:
        """The server process, while one is running."""
        return self._process.pid if self._process is not None and self._process.returncode is None else None

    async def _ensure(self) -> socket.socket:
        async with self._starting:
            if self._socket is not None and self._listener is not None and not self._listener.done():
                return self._socket
            if self._process is not None:  # a server that died: reap it before starting its successor
                kill_group(self._process.pid)
                await self._process.wait()
                self._process = None
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                self._process = await asyncio.create_subprocess_exec(
                    self._interpreter, "-I", str(self._runner), "--serve", str(theirs.fileno()),
                    pass_fds=[theirs.fileno()], stdin=asyncio.subprocess.DEVNULL,
                    env=base_environment(), start_new_session=True,
                )  # fmt: skip
            except OSError as exc:
                ours.close()
                raise ToolError(f"Process error: cannot start {self._interpreter!r}: {exc.strerror or exc}") from None
            finally:
                theirs.close()
            ours.setblocking(False)
            self._socket = ours
            self._listener = asyncio.create_task(self._listen(ours), name="python-forkserver-listener")
            return ours

    async def _listen(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while message := await loop.sock_recv(sock, 1 << 16):
                reply = orjson.loads(message)
                if "id" in reply:
                    pid: int = reply["pid"]
                    exited: asyncio.Future[int] = loop.create_future()
                    self._exits[pid] = exited
                    forked = self._forked.pop(reply["id"], None)
                    if forked is not None and not forked.done():
                        forked.set_result((pid, exited))
                else:
                    reported = self._exits.pop(reply["pid"], None)
                    if reported is not None and not reported.done():
                        reported.set_result(reply["code"])
        except (OSError, ValueError):
            pass  # the socket broke or the server wrote garbage: treated as the server being gone
        finally:
            # The server is gone: nobody will report these children any more.
            for pid in list(self._exits):
                kill_group(pid)
            for waiting in self._forked.values():
                if not waiting.done():
                    waiting.set_exception(_ServerGone())
            for running in self._exits.values():
                if not running.done():
                    running.set_exception(_ServerGone())
            self._forked.clear()
            self._exits.clear()
            sock.close()

    async def aclose(self) -> None:
        sock, process, listener = self._socket, self._process, self._listener
        self._socket = self._process = self._listener = None
        if sock is not None:
            sock.close()
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except TimeoutError:
                kill_group(process.pid)
                await process.wait()

    async def run(
        self,
        request: bytes,
        *,
        env: Mapping[str, str],
        cwd: str | None,
        time_limit: float,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        keep_stdout_from: bytes | None = None,
    ) -> ProcessOutcome:
        started = time.monotonic()
        if cwd is not None and not os.path.isdir(cwd):  # noqa: ASYNC240 - one stat() of a local path
            raise ToolError(f"Process error: cannot start {self._interpreter!r} in {cwd!r}: No such directory")
        try:
            sock = await self._ensure()
        except OSError as exc:
            raise ToolError(f"Process error: cannot start the python runner: {exc}") from None
        loop = asyncio.get_running_loop()
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        request_id = next(self._ids)
        forked: asyncio.Future[tuple[int, asyncio.Future[int]]] = loop.create_future()
        self._forked[request_id] = forked
        try:
            header = orjson.dumps({"id": request_id, "env": dict(env), "cwd": cwd})
            await _send_request(sock, header, [stdin_r, stdout_w, stderr_w])
        except BaseException as exc:  # cancelled, or the server is gone: nothing was handed over
            self._forked.pop(request_id, None)
            for fd in (stdin_r, stdin_w, stdout_r, stdout_w, stderr_r, stderr_w):
                os.close(fd)
            if isinstance(exc, OSError):
                raise _ServerGone() from None
            raise
        for fd in (stdin_r, stdout_w, stderr_w):  # the child has its own copies now
            os.close(fd)
        try:
            return await self._supervise(
                forked, stdin_w, stdout_r, stderr_r, request, time_limit=time_limit,
                max_output_bytes=max_output_bytes, keep_stdout_from=keep_stdout_from, started=started,
            )  # fmt: skip
        except BaseException:
            self._forked.pop(request_id, None)
            raise

    async def _supervise(
        self,
        forked: asyncio.Future[tuple[int, asyncio.Future[int]]],
        stdin: int,
        stdout: int,
        stderr: int,
        request: bytes,
        *,
        time_limit: float,
        max_output_bytes: int,
        keep_stdout_from: bytes | None,
        started: float,
    ) -> ProcessOutcome:
        """Feed the child, wait for its exit (or kill it at the limit), collect its output."""
        out = _Capture(stdout, max_output_bytes, keep_stdout_from)
        err = _Capture(stderr, max_output_bytes)
        pid: int | None = None
        fed = False
        timed_out = False
        try:
            pid, exited = await forked
            writer = _feed(stdin, request)
            fed = True
            if not exited.done():
                # asyncio.wait, not wait_for: on the time limit the exit is still awaited below, not cancelled.
                await asyncio.wait((exited,), timeout=max(time_limit, 0.0))
            code: int | None
            if exited.done():
                code = exited.result()
            else:
                timed_out, code = True, None
                kill_group(pid)
                with contextlib.suppress(TimeoutError, ToolError):
                    await asyncio.wait_for(exited, timeout=5)
            if writer is not None:
                await writer
            if not (out.done.done() and err.done.done()):
                # A grandchild that escaped the group (setsid) may hold a pipe open: stop waiting for it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(out.done, err.done), timeout=5)
        except BaseException:
            if pid is not None:
                kill_group(pid)
                self._exits.pop(pid, None)
            if not fed:
                os.close(stdin)
            raise
        finally:
            if pid is not None:
                kill_group(pid)  # background jobs of the command do not outlive it
            out.close()
            err.close()
        stdout_bytes = out.done.result() if out.done.done() and not out.done.cancelled() else b""
        stderr_bytes = err.done.result() if err.done.done() and not err.done.cancelled() else b""
        return ProcessOutcome(
            exit_code=code,
            stdout=stdout_bytes.decode("utf-8", errors="replace"),
            stderr=stderr_bytes.decode("utf-8", errors="replace"),
            timed_out=timed_out,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
