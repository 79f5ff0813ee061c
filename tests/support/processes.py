"""Child processes of the test suite: started in their own process group, logged to a file, killed by the
kernel if the test process dies, and stopped as a group.

Every support module that runs a server binary (the envtest control plane, Argo CD, Prometheus, the pod
runner, the operator of the e2e harness) starts it through here, so a crashed or ``kill -9``-ed pytest
leaves nothing running that would slow every later job on a 2-core CI machine. ``free_port`` is the
stand-in's (one owner), re-exported for the servers started here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from noetl_standin.natsserver import free_port

__all__ = ["Process", "die_with_parent", "free_port", "spawn"]

_PR_SET_PDEATHSIG = 1
# Resolved once in the parent: between fork and exec only async-signal-safe work is safe, and dlopen/dlsym
# take locks another thread may have held.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """``preexec_fn``: have the kernel SIGKILL the child when the thread that forked it ends.

    PDEATHSIG fires when the forking *thread* exits, so arm it only from a thread that outlives the child
    (``spawn`` arms it from the main thread only).
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Process:
    """A started child, its log file, and how to stop it."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group, SIGKILL it after ``grace`` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not self.alive():
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(wait)
        # Reap stragglers of the group even if the leader already exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()


def spawn(name: str, argv: Sequence[str | Path], logs: Path, env: Mapping[str, str] | None = None) -> Process:
    """Start ``argv`` with stdout and stderr appended to ``<logs>/<name>.log``."""
    log_path = logs / f"{name}.log"
    log = log_path.open("ab")
    # A fixture started from a worker thread must not have its server killed when that thread finishes.
    preexec = die_with_parent if threading.current_thread() is threading.main_thread() else None
    popen = subprocess.Popen(
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group, so teardown can kill the group
        preexec_fn=preexec,  # noqa: PLW1509 - deliberate, see die_with_parent
        env=dict(env) if env is not None else None,
    )
    return Process(name=name, popen=popen, log_path=log_path, _log=log)
