"""Run the stand-in control plane as a subprocess on a random loopback port, for tests and benchmarks.

A subprocess (not an in-process server) so the worker under test and the stand-in never share an
event loop: a stall in one cannot hide or cause a stall in the other.

    with running_standin(nats_url=nats_server.url, republish_delay_seconds=0.5) as standin:
        standin.url  # http://127.0.0.1:<port>

Keyword arguments are ``StandinSettings`` fields, passed as ``NOETL_STANDIN_<FIELD>`` variables.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from noetl_standin.natsserver import free_port

__all__ = ["StandinProcess", "StandinStartError", "running_standin"]


class StandinStartError(RuntimeError):
    """The stand-in process exited or did not become healthy."""


@dataclass
class StandinProcess:
    """A running stand-in subprocess."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _start(host: str, port: int, log_path: Path, settings: dict[str, Any], timeout: float) -> StandinProcess:
    env = dict(os.environ)
    env.update({f"NOETL_STANDIN_{name.upper()}": _env_value(v) for name, v in settings.items() if v is not None})
    argv = [sys.executable, "-m", "noetl_standin.cli", "--host", host, "--port", str(port)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    standin = StandinProcess(host, port, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StandinStartError(f"stand-in exited with {process.returncode}: {standin.log()[-2000:]}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{standin.url}/health", timeout=1) as response,
        ):
            if response.status == 200:
                return standin
        time.sleep(0.05)
    standin.stop()
    raise StandinStartError(f"stand-in not healthy after {timeout}s: {standin.log()[-2000:]}")


@contextlib.contextmanager
def running_standin(*, host: str = "127.0.0.1", timeout: float = 20.0, **settings: Any) -> Iterator[StandinProcess]:
    """Start the stand-in (``noetl-standin``) with the given settings; stop it when the block ends."""
    with tempfile.TemporaryDirectory(prefix="noetl-standin-") as workdir:
        log_path = Path(workdir) / "standin.log"
        attempts = 3  # a free port can be taken between probing and binding; try another one
        for attempt in range(attempts):
            try:
                standin = _start(host, free_port(host), log_path, settings, timeout)
                break
            except StandinStartError as exc:
                if attempt == attempts - 1 or "address already in use" not in str(exc).lower():
                    raise
        try:
            yield standin
        finally:
            standin.stop()
