"""Run one child process in its own process group, and never leave any of it behind.

Used by the ``shell`` and ``python`` tools. The child starts a new session (so it and everything it spawns
share one process group); on timeout, on cancellation, and after the child exits, the whole group gets
SIGKILL, so background jobs a command started cannot outlive it or keep its pipes open. Output is captured
up to a byte limit per stream (the rest is discarded, and the text says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from noetl_worker.tools.base import ToolError

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "OutputKeeper",
    "ProcessOutcome",
    "abandon",
    "base_environment",
    "drain",
    "kill_group",
    "run_process",
]

DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024
# Passed through from the worker's own environment; everything else must be declared by the step.
_INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    exit_code: int | None
    """The exit status; negative for a signal (-9 = killed); None when it timed out."""
    stdout: str
    stderr: str
    timed_out: bool
    duration_ms: int


@functools.cache
def _inherited() -> dict[str, str]:
    # Read once: each os.environ lookup encodes and decodes, about 30 µs a command for these six names,
    # and the worker's own environment does not change while it runs.
    env = {name: value for name in _INHERITED if (value := os.environ.get(name))}
    env.setdefault("PATH", _DEFAULT_PATH)
    return env


def base_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The clean environment of a tool process: a few inherited variables plus the step's declared ``env``."""
    env = dict(_inherited())
    if extra:
        env.update(extra)
    return env


class OutputKeeper:
    """Collects a stream's output up to ``limit`` bytes; past the limit, text from the last ``keep_from``
    occurrence on is still kept (the python tool's result line must survive a chatty script)."""

    __slots__ = ("_dropped", "_keep_from", "_kept", "_limit", "_tail", "_window")

    def __init__(self, limit: int, keep_from: bytes | None = None) -> None:
        self._limit = limit
        self._keep_from = keep_from
        self._kept = bytearray()
        self._dropped = 0
        self._window = b""  # tail of the discarded output, to find a keep_from marker that straddles chunks
        self._tail: bytearray | None = None

    def feed(self, chunk: bytes) -> None:
        room = self._limit - len(self._kept)
        if room >= len(chunk):
            self._kept += chunk
            return
        if room > 0:
            self._kept += chunk[:room]
            chunk = chunk[room:]
        self._dropped += len(chunk)
        keep_from = self._keep_from
        if keep_from is None:
            return
        if self._tail is not None:
            self._tail += chunk
        searchable = self._window + chunk
        found = searchable.rfind(keep_from)
        if found >= 0:
            self._tail = bytearray(searchable[found:])
        self._window = searchable[-len(keep_from) :]

    def result(self) -> bytes:
        kept = self._kept
        if self._dropped:
            tail = self._tail
            dropped = self._dropped - (len(tail) if tail is not None else 0)
            kept += f"\n[... {dropped} bytes of output discarded ...]".encode()
            kept += tail if tail is not None else b"\n"
        return bytes(kept)


async def drain(stream: asyncio.StreamReader | None, limit: int, keep_from: bytes | None = None) -> bytes:
    """Read ``stream`` to EOF under :class:`OutputKeeper`'s rules."""
    if stream is None:
        return b""
    keeper = OutputKeeper(limit, keep_from)
    while chunk := await stream.read(_CHUNK):
        keeper.feed(chunk)
    return keeper.result()


def _status(process: asyncio.subprocess.Process) -> int | None:
    return process.returncode  # re-read on every call (set by asyncio's child watcher)


async def _exited(process: asyncio.subprocess.Process) -> None:
    """Wait until the child itself has exited.

    ``Process.wait()`` also waits for the pipes to close, which a background job of the command can hold
    open forever; a pidfd becomes readable exactly when the child exits.
    """
    if process.returncode is not None:
        return
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel) or already reaped: poll the return code
        delay = 0.001
        while _status(process) is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return
    loop = asyncio.get_running_loop()
    exited = loop.create_future()

    def on_exit() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, on_exit)
    try:
        await exited
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


def abandon(future: asyncio.Future[Any]) -> None:
    """Cancel ``future`` and mark its outcome as seen, so no finalizer later logs "never retrieved"."""
    future.cancel()
    future.add_done_callback(lambda done: done.cancelled() or done.exception())


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    stdin: bytes | None = None,
    time_limit: float,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    keep_stdout_from: bytes | None = None,
) -> ProcessOutcome:
    """Run ``argv`` for at most ``time_limit`` seconds; the process group is always gone when this returns or raises."""
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        # Name the program and the directory, never the arguments (they may carry rendered secrets).
        where = f" in {cwd!r}" if cwd else ""
        raise ToolError(f"Process error: cannot start {argv[0]!r}{where}: {exc.strerror or exc}") from None
    pgid = process.pid  # new session: the child leads its own group
    readers = asyncio.gather(
        drain(process.stdout, max_output_bytes, keep_stdout_from), drain(process.stderr, max_output_bytes)
    )
    timed_out = False
    try:
        if stdin is not None and process.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                process.stdin.write(stdin)
                await process.stdin.drain()
            process.stdin.close()
        try:
            await asyncio.wait_for(_exited(process), timeout=max(time_limit, 0.0))
        except TimeoutError:
            timed_out = True
    except BaseException:
        abandon(readers)  # cancelled: the caller will not read the output
        raise
    finally:
        # Whatever happened (exit, timeout, cancellation), nothing of this command may survive it.
        # (Never Popen.kill(): it polls with waitpid and can steal the exit status from asyncio's watcher.)
        kill_group(pgid)
    try:
        out, err = await asyncio.wait_for(readers, timeout=5)
    except TimeoutError:  # a grandchild escaped the group (setsid) and holds the pipe: stop waiting for it
        abandon(readers)
        out, err = b"", b""
    with contextlib.suppress(ProcessLookupError):
        await process.wait()
    return ProcessOutcome(
        exit_code=None if timed_out else process.returncode,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
        timed_out=timed_out,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
