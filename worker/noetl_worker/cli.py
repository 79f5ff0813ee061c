"""``noetl-worker``: run the worker (the default, as the seed image's entrypoint does), print the effective
configuration, run the local dev mode, or run the stand-in control plane.

Bad configuration is reported as one line naming each offending variable and exit code 2 — no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence

from noetl_worker import __version__
from noetl_worker.log import configure_logging
from noetl_worker.settings import SettingsError, WorkerSettings, load_settings

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noetl-worker",
        description="NoETL worker pool: pulls commands from NATS JetStream and runs them. "
        "Configured from the environment (see docs/worker.md).",
    )
    parser.add_argument("--version", action="version", version=f"noetl-worker {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the worker (the default)")
    config = sub.add_parser("config", help="print the effective configuration, secrets masked")
    config.add_argument("--json", action="store_true", help="print JSON instead of NAME=value lines")
    dev = sub.add_parser("dev", help="local dev mode: embedded nats-server, stand-in control plane, a worker, a job")
    dev.add_argument("--job", default=None, help="job file to submit (default: examples/jobs/hello.yaml)")
    dev.add_argument("--workers", type=int, default=1, help="worker processes to start (default 1)")
    dev.add_argument("--keep-running", action="store_true", help="keep everything running after the job ends")
    sub.add_parser("standin", help="run the stand-in control plane (arguments are passed through)", add_help=False)
    return parser


def _settings_or_exit() -> WorkerSettings:
    try:
        return load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"noetl-worker: {exc}\n")
        raise SystemExit(2) from None


def _run() -> int:
    # Imported here so that `config` and `--help` stay instant and never load NATS or httpx.
    from noetl_worker.runtime.worker import Worker  # noqa: PLC0415

    settings = _settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(Worker(settings).run())
    except Exception:
        # A bug, not bad input: say so in the structured log (with the traceback as a field) and exit 1.
        logging.getLogger("noetl_worker").critical("worker stopped by an unexpected error", exc_info=True)
        return 1


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it is a dependency on Linux and macOS): the loop's own bookkeeping and socket
    I/O are a large part of a command's cost, and uvloop cut the worker's CPU per noop command by about a
    fifth in the benchmark (docs/performance.md). Without it, asyncio's default loop."""
    try:
        import uvloop  # noqa: PLC0415 - optional accelerator
    except ImportError:
        return None
    return uvloop.new_event_loop


def _config(as_json: bool) -> int:
    settings = _settings_or_exit()
    values = settings.masked()
    if as_json:
        sys.stdout.write(json.dumps(values, indent=2) + "\n")
    else:
        sys.stdout.write("".join(f"{name}={value}\n" for name, value in values.items()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["standin"]:
        try:
            # Dev extra only: the worker image does not ship the stand-in (and only devmode may import it).
            from noetl_worker.devmode import run_standin  # noqa: PLC0415
        except ImportError:
            sys.stderr.write("noetl-worker standin: the stand-in is not installed (pip install 'noetl-worker[dev]')\n")
            return 2
        return run_standin(args_list[1:])
    args = build_parser().parse_args(args_list)
    if args.command in (None, "run"):
        return _run()
    if args.command == "config":
        return _config(args.json)
    if args.command == "dev":
        try:
            from noetl_worker.devmode import run_dev  # noqa: PLC0415 - pulls in the stand-in, dev installs only
        except ImportError:
            sys.stderr.write("noetl-worker dev: the stand-in is not installed (pip install 'noetl-worker[dev]')\n")
            return 2
        return run_dev(job=args.job, workers=args.workers, keep_running=args.keep_running)
    return 2


if __name__ == "__main__":
    sys.exit(main())
