"""Supervised processes and their resource use: CPU seconds and RSS sampled with psutil.

Every measured component (worker, bare loop, stand-in, nats-server) runs as its own process so its CPU can be
read from the kernel rather than estimated. A sampler thread records ``(time, cpu seconds, rss)`` at a fixed
interval; CPU over any window of the run is then read by interpolation, so start-up cost (imports, connects)
stays outside the measured window.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

__all__ = ["BenchError", "ResourceMonitor", "Sample", "SupervisedProcess", "supervised"]

MIB = 1024 * 1024


_PR_SET_PDEATHSIG = 1
# Resolved once here: after fork only this already-bound function runs (no dlopen, no allocation).
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    # In the child between fork and exec: if the harness dies without cleaning up (SIGKILL), the kernel sends
    # the child SIGTERM instead of leaving a worker or a server running on its own.
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says which component failed and how."""


@dataclass(frozen=True)
class Sample:
    """One reading of a process tree: wall time (``time.time()``), CPU seconds so far, resident bytes."""

    t: float
    cpu_s: float
    rss: int


def _tree_reading(process: psutil.Process) -> tuple[float, int]:
    # Own CPU plus reaped children (a shell tool's processes) plus descendants still alive, each with the
    # children it reaped: the python tool's fork server reaps the process of every step, and without its
    # children_* the steps' own CPU (the larger part of a python command) was never counted.
    times = process.cpu_times()
    cpu = times.user + times.system + times.children_user + times.children_system
    rss = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child_times = child.cpu_times()
            cpu += child_times.user + child_times.system + child_times.children_user + child_times.children_system
            rss += child.memory_info().rss
    return cpu, rss


@dataclass
class ResourceMonitor:
    """Samples one process tree every ``interval`` seconds on a daemon thread."""

    pid: int
    interval: float = 0.05
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._process = psutil.Process(self.pid)
        self.sample()
        self._thread = threading.Thread(target=self._run, name=f"monitor-{self.pid}", daemon=True)
        self._thread.start()

    def sample(self) -> Sample | None:
        """Take one reading now (also used to close a window exactly); ``None`` once the process is gone."""
        try:
            cpu, rss = _tree_reading(self._process)
        except psutil.Error:
            return None
        reading = Sample(time.time(), cpu, rss)
        self.samples.append(reading)
        return reading

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.sample() is None:
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def cpu_at(self, t: float) -> float:
        """CPU seconds consumed by wall time ``t``, interpolated between the samples around it."""
        if not self.samples:
            raise BenchError(f"no resource samples for pid {self.pid}")
        before = self.samples[0]
        for after in self.samples:
            if after.t >= t:
                if after.t == before.t:
                    return after.cpu_s
                share = (t - before.t) / (after.t - before.t)
                return before.cpu_s + (after.cpu_s - before.cpu_s) * max(0.0, min(1.0, share))
            before = after
        return self.samples[-1].cpu_s

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds spent in the wall-clock window ``[start, end]``."""
        return max(0.0, self.cpu_at(end) - self.cpu_at(start))

    def peak_rss(self, start: float | None = None, end: float | None = None) -> int:
        """Largest RSS (bytes) sampled in the window (the whole life by default)."""
        chosen = [s.rss for s in self.samples if (start is None or s.t >= start) and (end is None or s.t <= end)] or [
            s.rss for s in self.samples
        ]
        return max(chosen, default=0)


@dataclass
class SupervisedProcess:
    """A child process with its own session (so its whole group can be stopped) and a resource monitor."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    sample_interval: float = 0.05
    popen: subprocess.Popen[bytes] | None = None
    monitor: ResourceMonitor | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self.popen = subprocess.Popen(
                    list(self.argv),
                    env=dict(self.env),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,  # noqa: PLW1509 - async-signal-safe: one prctl call
                )
            except OSError as error:
                raise BenchError(f"{self.name}: cannot start {list(self.argv)!r}: {error}") from None
        self.monitor = ResourceMonitor(self.popen.pid, self.sample_interval)
        try:
            self.monitor.start()
        except psutil.Error:
            raise BenchError(f"{self.name} exited at once: {self.log_tail()}") from None

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise BenchError(f"{self.name} is not started")
        return self.popen.pid

    def check_alive(self) -> None:
        """Raise, with the log tail, if the process has exited."""
        if self.popen is not None and self.popen.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.popen.returncode}: {self.log_tail()}")

    def log_tail(self, limit: int = 3000) -> str:
        if not self.log_path.exists():
            return "(no output)"
        return self.log_path.read_text(errors="replace")[-limit:].strip() or "(no output)"

    def stop(self, *, grace: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        """Ask the process to stop (``sig``), kill its group after ``grace`` seconds; returns the exit code."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        if self.monitor is not None:
            self.monitor.stop()
        return self.popen.returncode


@contextlib.contextmanager
def supervised(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    *,
    sample_interval: float = 0.05,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[SupervisedProcess]:
    """Run ``argv`` for the duration of the block, always stopping it (and its group) on the way out."""
    process = SupervisedProcess(name, argv, env, log_path, sample_interval)
    process.start()
    try:
        yield process
    finally:
        process.stop(sig=stop_signal)
