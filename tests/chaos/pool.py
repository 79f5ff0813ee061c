"""A pool of worker processes the chaos run can kill, drain, replace and audit.

Every way a worker leaves is recorded: a SIGKILL we sent, a SIGTERM we sent (and its exit code), or an
exit nobody asked for — a crash, which the run reports and which must never happen.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.worker.workerproc import WorkerProcess, start_worker

__all__ = ["Crash", "WorkerPool"]


@dataclass(frozen=True)
class Crash:
    """A worker that exited without being told to."""

    worker_id: str
    returncode: int
    log_tail: str


@dataclass
class WorkerPool:
    """``size`` live workers on one stream/consumer; replacements keep the size constant."""

    log_dir: Path
    nats_url: str
    server_url: str
    env: dict[str, str]
    size: int
    live: list[WorkerProcess] = field(default_factory=list)
    killed: dict[str, float] = field(default_factory=dict)
    """worker_id -> wall time of the SIGKILL we sent."""
    drained: dict[str, int] = field(default_factory=dict)
    """worker_id -> exit code after the SIGTERM we sent."""
    crashes: list[Crash] = field(default_factory=list)
    everyone: list[WorkerProcess] = field(default_factory=list)

    def start(self, *, wait_ready: bool = True) -> WorkerProcess:
        worker = start_worker(self.log_dir, self.nats_url, self.server_url, **self.env)
        self.live.append(worker)
        self.everyone.append(worker)
        if wait_ready:
            worker.wait_ready(timeout=60)
        return worker

    def fill(self) -> None:
        started = [self.start(wait_ready=False) for _ in range(self.size - len(self.live))]
        for worker in started:
            worker.wait_ready(timeout=60)

    def audit(self) -> None:
        """Move workers that exited on their own to ``crashes`` and start replacements."""
        for worker in list(self.live):
            code = worker.process.poll()
            if code is not None:
                self.live.remove(worker)
                self.crashes.append(Crash(worker.worker_id, code, worker.log()[-3000:]))
        if len(self.live) < self.size:
            self.fill()

    def sigkill_one(self, rng: random.Random) -> str:
        """SIGKILL a random live worker (as the OOM killer or a node loss would) and start a new one."""
        victim = rng.choice(self.live)
        self.live.remove(victim)
        self.killed[victim.worker_id] = time.time()
        victim.kill()
        self.start()
        return victim.worker_id

    def sigterm_one(self, rng: random.Random, *, timeout: float = 60.0) -> str:
        """SIGTERM a random live worker (a rolling update's drain), wait for its exit, start a new one."""
        victim = rng.choice(self.live)
        self.live.remove(victim)
        replacement = self.start(wait_ready=False)
        try:
            code = victim.terminate(timeout)
        except subprocess.TimeoutExpired:
            victim.kill()
            code = -int(signal.SIGKILL)
        self.drained[victim.worker_id] = code
        replacement.wait_ready(timeout=60)
        return victim.worker_id

    def stop_all(self, *, timeout: float = 60.0) -> dict[str, int]:
        """SIGTERM every live worker; their exit codes by worker id."""
        for worker in self.live:
            worker.process.send_signal(signal.SIGTERM)
        codes: dict[str, int] = {}
        for worker in self.live:
            try:
                codes[worker.worker_id] = worker.process.wait(timeout)
            except subprocess.TimeoutExpired:
                worker.kill()
                codes[worker.worker_id] = -int(signal.SIGKILL)
        self.live.clear()
        return codes

    def kill_all(self) -> None:
        """Teardown: nothing may outlive the test."""
        for worker in self.everyone:
            if worker.process.poll() is None:
                worker.kill()

    def logs(self, predicate: Callable[[str], bool] | None = None) -> dict[str, str]:
        return {w.worker_id: w.log() for w in self.everyone if predicate is None or predicate(w.worker_id)}
