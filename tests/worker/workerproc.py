"""Run ``noetl-worker`` as a real subprocess against a real nats-server and the stand-in.

Process behaviour (signals, kills, exit codes, what reaches the logs) can only be tested on a process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noetl_standin.natsserver import free_port

__all__ = ["WorkerProcess", "running_worker", "start_worker"]


@dataclass
class WorkerProcess:
    worker_id: str
    metrics_port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.metrics_url}{path}", timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except (urllib.error.URLError, OSError) as exc:
            return 0, f"unreachable: {exc}"  # not listening (yet, or any more)

    def metric(self, name: str, **labels: str) -> float:
        """A sample from ``/metrics`` (0 when absent)."""
        _, text = self.get("/metrics")
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            sample, _, value = line.rpartition(" ")
            metric_name, _, label_text = sample.partition("{")
            got = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
            if metric_name == name and got == wanted:
                return float(value)
        return 0.0

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            with contextlib.suppress(OSError):
                if self.get("/readyz")[0] == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log()[-3000:]}")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_worker(log_dir: Path, nats_url: str, server_url: str, **env: str) -> WorkerProcess:
    worker_id = env.pop("WORKER_ID", f"w-{uuid.uuid4().hex[:8]}")
    port = free_port()
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "WORKER_ID": worker_id,
        "NATS_URL": nats_url,
        "NOETL_SERVER_URL": server_url,
        "WORKER_METRICS_BIND": f"127.0.0.1:{port}",
        "WORKER_HEARTBEAT_INTERVAL": "1",
        "WORKER_NATS_LAG_POLL_INTERVAL": "1",
        "WORKER_NATS_PULL_EXPIRY": "2",
        **env,
    }
    log_path = log_dir / f"{worker_id}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "noetl_worker"], stdout=log, stderr=subprocess.STDOUT, env=full_env,
            start_new_session=True,
        )  # fmt: skip
    return WorkerProcess(worker_id, port, process, log_path, full_env)


@contextlib.contextmanager
def running_worker(log_dir: Path, nats_url: str, server_url: str, **env: str) -> Iterator[WorkerProcess]:
    worker = start_worker(log_dir, nats_url, server_url, **env)
    try:
        worker.wait_ready()
        yield worker
    finally:
        if worker.process.poll() is None:
            try:
                worker.terminate(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
