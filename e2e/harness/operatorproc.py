"""Run the operator as it ships (``noetl-operator run``) in a subprocess or its image, for a local e2e cluster.

A subprocess rather than kopf in-process: the suite is synchronous and blocks in its waits, and the
operator must keep reconciling (and finalizing) meanwhile, on an event loop nobody else can stall.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from noetl_standin.natsserver import free_port

from tests.support.containers import Container, portable_kubeconfig, run_argv
from tests.support.processes import die_with_parent

__all__ = ["OperatorProcess", "OperatorStartError", "running_operator"]


class OperatorStartError(RuntimeError):
    """The operator exited or never answered its liveness probe; the message carries its log tail."""


@dataclass(frozen=True)
class OperatorProcess:
    """A running ``noetl-operator run``."""

    process: subprocess.Popen[bytes]
    log_path: Path
    liveness_url: str
    metrics_url: str

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _live(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def running_operator(
    kubeconfig: Path,
    log_path: Path,
    *,
    standalone: bool = True,
    resync_interval_seconds: float = 5.0,
    startup_timeout: float = 60.0,
    image: str | None = None,
) -> Iterator[OperatorProcess]:
    """Start the operator cluster-wide as the identity in ``kubeconfig``; stop it on exit.

    ``standalone`` (the default) is how deploy/base/deployment.yaml runs it (one replica, no peering);
    ``standalone=False`` runs it with kopf peering at a fixed priority (the peering CRD must be
    installed). The resync is shorter than the shipped default so drift and lag read-outs follow the
    tests' pace. ``image`` runs the operator image (``noetl-operator:dev``) as a container instead of
    this checkout's code in a subprocess.
    """
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    metrics_bind = f"127.0.0.1:{free_port()}"
    resync = {
        "NOETL_OPERATOR_RESYNC_INTERVAL_SECONDS": str(resync_interval_seconds),
        "NOETL_OPERATOR_METRICS_BIND": metrics_bind,
    }
    run = ["run", *(["--standalone"] if standalone else ["--priority=100"]), f"--liveness={liveness}"]
    signal_container: Callable[[signal.Signals], None] | None = None
    if image is None:
        env = {**os.environ, **resync}
        env.pop("KUBECONFIG", None)
        argv = [sys.executable, "-m", "noetl_operator.cli", *run, f"--kubeconfig={kubeconfig}"]
    else:
        # The image as a Pod runs it: hardened, on the host's network (the API server is on loopback), the
        # kubeconfig mounted read-only, made self-contained because the container cannot read its files.
        mounted = portable_kubeconfig(kubeconfig, log_path.parent / "operator-kubeconfig" / "config")
        name = f"noetl-operator-{uuid.uuid4().hex[:8]}"
        argv = run_argv(
            image,
            [*run, "--kubeconfig=/var/run/noetl/config"],
            name=name,
            env=resync,
            extra=[f"--volume={mounted.parent}:/var/run/noetl:ro"],
        )
        env = dict(os.environ)
        signal_container = Container(name).signal
    with log_path.open("ab") as log:
        # The parent-death signal follows the forking *thread*; only the main thread lives as long as pytest.
        main = threading.current_thread() is threading.main_thread()
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent if main else None,  # noqa: PLW1509 - deliberate, see die_with_parent
        )
    operator = OperatorProcess(
        process=process, log_path=log_path, liveness_url=liveness, metrics_url=f"http://{metrics_bind}/metrics"
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while not _live(liveness):
            if not operator.alive():
                raise OperatorStartError(f"noetl-operator exited with {process.returncode}:\n{operator.log_tail()}")
            if time.monotonic() > deadline:
                raise OperatorStartError(
                    f"noetl-operator not live after {startup_timeout:.0f}s ({liveness}):\n{operator.log_tail()}"
                )
            time.sleep(0.2)
        yield operator
    finally:
        if operator.alive():
            # kopf finishes in-flight handlers on SIGTERM; a hung one must not hang the session.
            _signal(process, signal.SIGTERM, signal_container)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL, signal_container)
                process.wait()


def _signal(
    process: subprocess.Popen[bytes], sig: signal.Signals, container: Callable[[signal.Signals], None] | None
) -> None:
    """To the container through the daemon when the process is its `docker run`, else to the process group."""
    if container is not None:
        container(sig)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
