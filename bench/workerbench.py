"""``python -m bench worker``: every implementation against the bare loop, scenario by scenario, one run.

One nats-server, one stand-in and one HTTP peer serve the whole suite, each in its own process with its CPU
sampled. A scenario runs in rounds; in each round every implementation takes a turn (in a seeded order)
with a fresh durable consumer and fresh commands, so no round sees another's messages. Workers run with
their own defaults (JSON logs at INFO, one line per command), as a deployment runs them.

Clocks: publish times are taken by the harness, claim and completion times by the stand-in, all with
``time.time()`` on this one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from noetl_standin.natsserver import NatsServer, free_port, running_nats_server

from bench.controlplane import ControlPlane, FastControlPlane, api_requests, control_plane
from bench.forkcost import measure_fork_cost_ms
from bench.machine import describe_machine
from bench.measure import Measurement, combine, measure
from bench.pointers import STREAM, BenchStream
from bench.procs import BenchError, ResourceMonitor, SupervisedProcess
from bench.results import RunResult, WorkerReport
from bench.scenarios import Scenario, build_scenarios
from bench.settings import WorkerBenchSettings, WorkerCommand
from bench.targets import BARELOOP, check_targets, compute_ratios

__all__ = ["BARELOOP_COMMAND", "run_worker_bench"]

BARELOOP_COMMAND = WorkerCommand(label=BARELOOP, argv=(sys.executable, "-m", "bench.bareloop"))
READY_TIMEOUT_S = 60.0
POLL_S = 0.1


@dataclass
class Services:
    """What every run shares: nats-server, the stand-in, the HTTP peer, and the publisher connection."""

    nats: NatsServer
    nats_monitor: ResourceMonitor
    control_plane: ControlPlane | FastControlPlane
    peer: SupervisedProcess
    peer_url: str
    stream: BenchStream


@contextlib.asynccontextmanager
async def _services(settings: WorkerBenchSettings) -> AsyncIterator[Services]:
    log_dir = settings.out_dir / "logs"
    with running_nats_server(store_dir=None) as nats_server:
        assert nats_server.process is not None
        nats_monitor = ResourceMonitor(nats_server.process.pid, settings.sample_interval_s)
        nats_monitor.start()
        peer_port = free_port()
        peer = SupervisedProcess(
            "peer",
            [sys.executable, "-m", "bench.peer", "--port", str(peer_port), "--seed", str(settings.seed)],
            dict(os.environ),
            log_dir / "peer.log",
            settings.sample_interval_s,
        )
        peer.start()
        try:
            await _wait_port(peer, peer_port)
            async with (
                control_plane(settings.control_plane, log_dir, settings.sample_interval_s) as plane,
                BenchStream(nats_server.url, plane.url) as stream,
            ):
                yield Services(nats_server, nats_monitor, plane, peer, f"http://127.0.0.1:{peer_port}", stream)
        finally:
            await asyncio.to_thread(peer.stop)
            nats_monitor.stop()


async def _wait_port(process: SupervisedProcess, port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        process.check_alive()
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{process.name} not listening on {port} after 30 s: {process.log_tail()}")
        await asyncio.sleep(0.05)


def _worker_env(services: Services, consumer: str, run_id: str, slots: int, worker_id: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NATS_URL=services.nats.url,
        NATS_STREAM=STREAM,
        NATS_CONSUMER=consumer,
        NATS_SUBJECT=f"bench.commands.{run_id}",
        NOETL_SERVER_URL=services.control_plane.url,
        WORKER_MAX_CONCURRENT=str(slots),
        WORKER_ID=worker_id,
        WORKER_POOL_NAME="bench",
        WORKER_METRICS_BIND=f"127.0.0.1:{free_port()}",
    )
    return env


async def _wait_finished(services: Services, processes: list[SupervisedProcess], target: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while (done := await services.control_plane.finished()) < target:
        for process in processes:
            process.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"only {done} of {target} commands finished within {limit_s:.0f} s")
        await asyncio.sleep(POLL_S)


async def _warm_up(services: Services, scenario: Scenario, run_id: str, processes: list[SupervisedProcess]) -> None:
    """Ready = one canary command went the whole way (pull, claim, events) on this run's consumer.

    Protocol-level, so it holds for any implementation: a worker that parks a long pull and one that polls
    with short fetches (the Rust worker fetches every 100 ms, so a parked pull is rarely there to see) are
    both ready once they have finished a command. The canary is not part of the measured commands.
    """
    before = await services.control_plane.finished()
    canary = await services.control_plane.submit(scenario.kind, scenario.tool_config, 1, prefix=f"{run_id}_warmup_")
    await services.stream.preload(run_id, canary)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while await services.control_plane.finished() <= before:
        for process in processes:
            process.check_alive()
        if time.monotonic() > deadline:
            tails = "; ".join(f"{p.name}: {p.log_tail(500)}" for p in processes)
            raise BenchError(f"the warm-up command on {run_id} did not finish within {READY_TIMEOUT_S:.0f} s ({tails})")
        await asyncio.sleep(0.05)


async def run_one(
    services: Services,
    settings: WorkerBenchSettings,
    scenario: Scenario,
    impl: WorkerCommand,
    run_index: int,
    *,
    commands: int,
    argv: tuple[str, ...] | None = None,
) -> Measurement:
    """One round of ``impl`` in ``scenario``; its processes are always stopped, even when the round fails."""
    run_id = f"r{run_index:03d}"
    consumer = await services.stream.new_consumer(run_id)
    cp = services.control_plane
    published: dict[int, float] = {}
    processes = [
        SupervisedProcess(
            f"{impl.label}[{run_id}.{k}]",
            argv or impl.argv,
            _worker_env(services, consumer, run_id, scenario.slots, f"{impl.label}-{run_id}-{k}"),
            settings.out_dir / "logs" / f"{run_id}-{scenario.name}-{impl.label}-{k}.log",
            settings.sample_interval_s,
        )
        for k in range(scenario.processes)
    ]
    idle_rss: int | None = None
    try:
        if scenario.mode == "paced":
            for process in processes:
                process.start()
            await _warm_up(services, scenario, run_id, processes)
        # Counted from here: the canary's requests and event are not part of the measurement.
        pointers = await cp.submit(scenario.kind, scenario.tool_config, commands, prefix=f"{run_id}_")
        finished_before = await cp.finished()
        counters_before = api_requests(await cp.counters())
        if scenario.mode == "preload":
            published = await services.stream.preload(run_id, pointers)
            for process in processes:
                process.start()
        else:
            await asyncio.sleep(settings.idle_settle_s)
            readings = [p.monitor.sample() if p.monitor else None for p in processes]
            idle_rss = max((r.rss for r in readings if r is not None), default=0)
            assert scenario.rate is not None
            published = await services.stream.paced(run_id, pointers, scenario.rate)
        await _wait_finished(services, processes, finished_before + len(pointers), settings.run_timeout_s)
        for process in processes:
            if process.monitor is not None:
                process.monitor.sample()
    finally:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in processes))
    counters_after = api_requests(await cp.counters())
    times = await cp.times([p.execution_id for p in pointers])
    await services.stream.delete_consumer(consumer)
    standin = services.control_plane.process.monitor
    assert standin is not None
    return measure(
        scenario,
        impl.label,
        published,
        times,
        workers=[p.monitor for p in processes if p.monitor is not None],
        standin=standin,
        nats=services.nats_monitor,
        idle_rss=idle_rss,
        requests=counters_after - counters_before,
    )


def _profile_argv(impl: WorkerCommand, path: Path) -> tuple[str, ...] | None:
    """The worker under pyinstrument, when it is a Python module run with ``-m``; else ``None``."""
    argv = impl.argv
    if len(argv) >= 3 and argv[1] == "-m" and Path(argv[0]).name.startswith("python"):
        return (argv[0], "-m", "pyinstrument", "--renderer", "text", "--outfile", str(path), "-m", *argv[2:])
    return None


async def _profile(
    services: Services, settings: WorkerBenchSettings, scenario: Scenario, index: int, notes: list[str]
) -> int:
    """An extra, unreported run of each worker under pyinstrument; returns the next run index."""
    for impl in settings.workers:
        path = settings.out_dir / f"profile-{scenario.name}-{impl.label}.txt"
        argv = _profile_argv(impl, path)
        if argv is None:
            notes.append(f"profile: {impl.label} is not a 'python -m' command; not profiled")
            continue
        index += 1
        try:
            await run_one(services, settings, scenario, impl, index, commands=scenario.commands, argv=argv)
        except BenchError as error:
            notes.append(f"profile of {impl.label} in {scenario.name} failed: {error}")
        else:
            notes.append(f"profile of {impl.label} in {scenario.name}: {path}")
    return index


def _shares(total: int, rounds: int) -> list[int]:
    """Split ``total`` commands over ``rounds`` (no empty round)."""
    rounds = max(1, min(rounds, total))
    return [total // rounds + (1 if i < total % rounds else 0) for i in range(rounds)]


async def run_worker_bench(settings: WorkerBenchSettings) -> WorkerReport:
    """Run the selected scenarios for the bare loop and every implementation; return the report."""
    started = time.time()
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(settings.seed)
    implementations = [BARELOOP_COMMAND, *settings.workers]
    runs: list[RunResult] = []
    notes: list[str] = []
    async with _services(settings) as services:
        machine = describe_machine(services.nats.binary)
        index = 0
        for scenario in build_scenarios(settings, services.peer_url):
            rounds: dict[str, list[Measurement]] = {impl.label: [] for impl in implementations}
            failed: set[str] = set()
            for round_number, share in enumerate(_shares(scenario.commands, settings.rounds), start=1):
                order = [impl for impl in implementations if impl.label not in failed]
                rng.shuffle(order)
                for impl in order:
                    index += 1
                    print(
                        f"  {scenario.name:<12} {impl.label:<12} round {round_number} ...",
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
                    try:
                        measured = await run_one(services, settings, scenario, impl, index, commands=share)
                    except BenchError as error:
                        print(" failed", file=sys.stderr)
                        notes.append(f"{scenario.name}/{impl.label}: {error}")
                        failed.add(impl.label)
                        continue
                    print(f" {measured.completed / measured.window_s:8.1f} cmd/s", file=sys.stderr)
                    rounds[impl.label].append(measured)
            runs += [
                combine(scenario, label, measured)
                for label, measured in rounds.items()
                if measured and label not in failed
            ]
            if settings.profile:
                index = await _profile(services, settings, scenario, index, notes)
    labels = [w.label for w in settings.workers]
    fork_cost = await asyncio.to_thread(measure_fork_cost_ms) if "python" in settings.scenarios else None
    return WorkerReport(
        started_at=datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        duration_s=time.time() - started,
        machine=machine,
        settings=settings.model_dump(mode="json"),
        runs=runs,
        ratios=compute_ratios(runs),
        targets=check_targets(runs, labels, machine.logical_cpus, fork_cost),
        fork_cost_ms=fork_cost,
        notes=notes,
    )
