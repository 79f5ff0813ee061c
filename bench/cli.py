"""Command line: ``python -m bench worker|operator|all [options]``.

Prints a table for people on stdout and writes JSON for tools to ``<out>/<kind>.json``. Bad options are a
one-line error and exit code 2; a benchmark that cannot run (a component failing to start, a run timing out)
is a one-line error naming the component and exit code 1 — never a traceback. ``--check`` also exits 1 when
a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import signal
import sys
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from bench.procs import BenchError
from bench.report import render_operator, render_worker, write_json
from bench.results import OperatorReport, SuiteReport, TargetCheck, WorkerReport
from bench.settings import (
    WORKER_SCENARIOS,
    OperatorBenchSettings,
    WorkerBenchSettings,
    default_worker_command,
    parse_worker_command,
)

__all__ = ["build_parser", "main"]

T = TypeVar("T")

# ``--quick``: the harness end to end in seconds (CI smoke test), figures not meant to be read.
QUICK_WORKER: dict[str, Any] = {
    "rounds": 1,
    "noop_commands": 60,
    "latency_commands": 20,
    "latency_rate": 100.0,
    "sleep_commands": 16,
    "duckdb_commands": 16,
    "result_commands": 4,
    "python_commands": 8,
    "idle_settle_s": 0.5,
    "run_timeout_s": 60.0,
}
QUICK_OPERATOR: dict[str, Any] = {
    "pools": 3,
    "cold_pools": 5,
    "idle_window_s": 2.0,
    "create_interval_s": 0.0,
    "resync_interval_s": 1.0,
}


def _default_out() -> Path:
    return Path("bench-results") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="NoETL worker pool benchmarks.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", type=Path, default=None, help="output directory (default bench-results/<time>)")
    common.add_argument("--seed", type=int, default=None, help="seed of everything randomized (default 20261129)")
    common.add_argument("--quick", action="store_true", help="tiny sizes: proves the harness runs, in seconds")
    common.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    common.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    worker = argparse.ArgumentParser(add_help=False)
    worker.add_argument(
        "--worker-cmd",
        action="append",
        default=[],
        metavar="[LABEL=]CMD",
        help="another worker to measure side by side (repeatable), e.g. rust=/usr/local/bin/noetl-worker",
    )
    worker.add_argument("--no-default-worker", action="store_true", help="measure only the --worker-cmd workers")
    worker.add_argument(
        "--scenarios", default=None, help=f"comma-separated subset of {','.join(WORKER_SCENARIOS)} (default all)"
    )
    worker.add_argument("--rounds", type=int, default=None, help="interleaved rounds per scenario (2)")
    worker.add_argument("--slots", type=int, default=None, help="slots of the noop/latency/two-process runs (32)")
    worker.add_argument("--noop-commands", type=int, default=None, help="backlog of a noop throughput run (2000)")
    worker.add_argument("--latency-rate", type=float, default=None, help="paced publish rate, commands/s (50)")
    worker.add_argument("--latency-commands", type=int, default=None, help="commands in the paced run (300)")
    worker.add_argument("--sleep-commands", type=int, default=None, help="commands in the 100 ms run (400)")
    worker.add_argument("--duckdb-commands", type=int, default=None, help="commands in the duckdb run (400)")
    worker.add_argument("--result-commands", type=int, default=None, help="commands in the 1 MiB run (100)")
    worker.add_argument("--python-commands", type=int, default=None, help="commands in the python-tool run (400)")
    worker.add_argument(
        "--control-plane",
        choices=("fast", "standin"),
        default=None,
        help="what answers the workers: fast (bench.fastplane, default) or standin (noetl_standin)",
    )
    worker.add_argument(
        "--profile",
        action="store_true",
        help="one more run per worker and scenario under pyinstrument (see --scenarios)",
    )

    operator = argparse.ArgumentParser(add_help=False)
    operator.add_argument("--pools", type=int, default=None, help="pools timed create -> Ready (50)")
    operator.add_argument("--cold-pools", type=int, default=None, help="pools present at cold start (200)")
    operator.add_argument("--idle-window", type=float, default=None, help="idle CPU window, seconds (30)")

    sub.add_parser("worker", parents=[common, worker], help="worker throughput, latency, CPU, RSS vs the bare loop")
    sub.add_parser("operator", parents=[common, operator], help="operator reconcile latency, cold start, idle cost")
    sub.add_parser("all", parents=[common, worker, operator], help="both, one report")
    return parser


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def worker_settings(args: argparse.Namespace, out: Path) -> WorkerBenchSettings:
    workers = [] if args.no_default_worker else [default_worker_command()]
    workers += [parse_worker_command(text) for text in args.worker_cmd]
    if not workers:
        raise ValueError("--no-default-worker needs at least one --worker-cmd")
    scenarios = None
    if args.scenarios is not None:
        scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
        unknown = sorted(set(scenarios) - set(WORKER_SCENARIOS))
        if unknown:
            raise ValueError(f"--scenarios: unknown {', '.join(unknown)} (known: {', '.join(WORKER_SCENARIOS)})")
    values: dict[str, Any] = {**(QUICK_WORKER if args.quick else {})}
    values |= _drop_none(
        {
            "seed": args.seed,
            "scenarios": scenarios,
            "rounds": args.rounds,
            "slots": args.slots,
            "noop_commands": args.noop_commands,
            "latency_rate": args.latency_rate,
            "latency_commands": args.latency_commands,
            "sleep_commands": args.sleep_commands,
            "duckdb_commands": args.duckdb_commands,
            "result_commands": args.result_commands,
            "python_commands": args.python_commands,
            "control_plane": args.control_plane,
        }
    )
    return WorkerBenchSettings(out_dir=out, workers=tuple(workers), profile=args.profile, **values)


def operator_settings(args: argparse.Namespace, out: Path) -> OperatorBenchSettings:
    values: dict[str, Any] = {**(QUICK_OPERATOR if args.quick else {})}
    values |= _drop_none(
        {"seed": args.seed, "pools": args.pools, "cold_pools": args.cold_pools, "idle_window_s": args.idle_window}
    )
    return OperatorBenchSettings(out_dir=out, **values)


def _validation_message(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors())


def _missed(checks: Sequence[TargetCheck]) -> bool:
    return any(check.status == "missed" for check in checks)


def _run(args: argparse.Namespace, out: Path) -> tuple[str, bool]:
    """Run what was asked; return the text to print and whether any target was missed."""
    # The benchmarks are imported here so that ``--help`` and option errors stay instant.
    worker: WorkerReport | None = None
    operator: OperatorReport | None = None
    if args.command in ("worker", "all"):
        from bench.workerbench import run_worker_bench  # noqa: PLC0415

        worker = asyncio.run(_cancelled_by_signals(run_worker_bench(worker_settings(args, out))))
        write_json(worker, out / "worker.json")
    if args.command in ("operator", "all"):
        from bench.operatorbench import run_operator_bench  # noqa: PLC0415

        operator = run_operator_bench(operator_settings(args, out))
        write_json(operator, out / "operator.json")
    suite = SuiteReport(worker=worker, operator=operator)
    if args.command == "all":
        write_json(suite, out / "all.json")
    missed = _missed(worker.targets if worker else []) or _missed(operator.targets if operator else [])
    if args.json:
        model = suite if args.command == "all" else worker or operator
        assert model is not None
        return model.model_dump_json(indent=2) + "\n", missed
    parts = ([render_worker(worker)] if worker else []) + ([render_operator(operator)] if operator else [])
    text = "\n".join(parts)
    return f"{text}\nJSON: {out}\n", missed


async def _cancelled_by_signals(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``; SIGTERM or SIGINT cancel it, so its cleanup runs as ordinary ``finally`` blocks.

    Cancelling the task is the asyncio way to stop: an exception raised by a signal handler could land in the
    middle of the event loop's own bookkeeping instead.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, task.cancel)
    try:
        return await work
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so every server and worker the run started is stopped on the way out.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    # `kill -USR1 <pid>` prints every thread's stack: where a run that seems stuck is waiting.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    parser = build_parser()
    args = parser.parse_args(argv)
    out: Path = args.out or _default_out()
    try:
        # Validate every option before starting anything.
        if args.command in ("worker", "all"):
            worker_settings(args, out)
        if args.command in ("operator", "all"):
            operator_settings(args, out)
    except ValidationError as error:
        parser.error(_validation_message(error))
    except ValueError as error:
        parser.error(str(error))
    try:
        text, missed = _run(args, out)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted", file=sys.stderr)
        return 130
    sys.stdout.write(text)
    return 1 if args.check and missed else 0
