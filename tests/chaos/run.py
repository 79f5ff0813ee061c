"""One chaos run: a job of N ledger commands, a seeded fault schedule, and the counted outcome.

The run is driven by progress, not by the clock: fault *i* fires when the job has completed its share
``at`` of the commands, so every fault lands mid-run however fast or slow the machine is. NATS faults
are supplied by the caller (a single server restarts; a cluster loses its stream or consumer leader).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus, JobView

from tests.chaos.ledger import AttemptLedger
from tests.chaos.pool import Crash, WorkerPool

__all__ = [
    "HTTP_AND_PROCESS_FAULTS",
    "ChaosPlan",
    "ChaosReport",
    "FaultRecord",
    "NatsFault",
    "prepare_topology",
    "run_chaos",
    "schedule",
]

NatsFault = Callable[[], Awaitable[str]]
"""A NATS-side fault: does its damage, waits for recovery, returns a one-line description."""

#: Faults every run injects; the caller adds its NATS faults by name.
HTTP_AND_PROCESS_FAULTS = (
    "sigkill_worker",
    "sigterm_worker",
    "http_503_burst",
    "control_plane_down",
    "drop_after_commit",
    "duplicates",
    "poison",
)

ACK_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class ChaosPlan:
    """What to run and how hard to shake it."""

    commands: int
    workers: int = 3
    slots: int = 2
    hold_seconds: float = 0.3
    seed: int = 20261129
    rounds: int = 1
    """How many times each fault kind fires."""
    outage_seconds: float = 5.0
    burst_seconds: float = 4.0
    duplicates: int = 20
    """Pointers published again per ``duplicates`` fault."""
    timeout_seconds: float = 170.0
    """Budget for the whole run (submission to completion)."""

    @property
    def lease_seconds(self) -> float:
        # Longer than an outage plus the worker's longest event back-off (10 s) with margin: a live
        # holder's claim must never look abandoned because the control plane itself was away.
        return self.outage_seconds + 20.0


@dataclass(frozen=True)
class ScheduledFault:
    at: float
    """Share of completed commands that triggers it."""
    kind: str


def schedule(plan: ChaosPlan, kinds: tuple[str, ...], *, shuffle: bool = True) -> list[ScheduledFault]:
    """Every kind ``plan.rounds`` times, in a seeded order (or as given), spread over 5 %-85 % progress."""
    order = [kind for _ in range(plan.rounds) for kind in kinds]
    if shuffle:
        random.Random(plan.seed).shuffle(order)
    step = 0.80 / max(1, len(order) - 1)
    return [ScheduledFault(round(0.05 + i * step, 4), kind) for i, kind in enumerate(order)]


@dataclass(frozen=True)
class FaultRecord:
    kind: str
    at_progress: float
    seconds: float
    detail: str


@dataclass
class ChaosReport:
    """The counted outcome of a run; ``render()`` is what the test prints."""

    plan: ChaosPlan
    submitted: int = 0
    completed: int = 0
    lost: int = 0
    accepted_outcomes: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    double_runs: dict[str, int] = field(default_factory=dict)
    unexplained_double_runs: dict[str, str] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    killed_workers: int = 0
    drained_workers: int = 0
    drain_exit_codes: list[int] = field(default_factory=list)
    final_exit_codes: list[int] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    poison_published: int = 0
    poison_dead_lettered: int = 0
    real_commands_dead_lettered: int = 0
    consumer_settled: bool = False
    wall_seconds: float = 0.0
    drain_seconds: float = 0.0
    claims: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    """Faults the stand-in actually applied (``saturated``, ``outage``, ``dropped_response``)."""

    @property
    def extra_runs(self) -> int:
        return sum(n - 1 for n in self.double_runs.values())

    @property
    def unexpected_exits(self) -> int:
        bad_drains = sum(1 for code in self.drain_exit_codes if code != 0)
        bad_finals = sum(1 for code in self.final_exit_codes if code != 0)
        return len(self.crashes) + bad_drains + bad_finals

    def as_json(self) -> dict[str, Any]:
        return {
            "commands": self.plan.commands,
            "workers": self.plan.workers,
            "slots": self.plan.slots,
            "seed": self.plan.seed,
            "submitted": self.submitted,
            "completed": self.completed,
            "lost": self.lost,
            "commands_run_more_than_once": len(self.double_runs),
            "extra_runs": self.extra_runs,
            "double_runs_outside_window": len(self.unexplained_double_runs),
            "injected_sigkills": self.killed_workers,
            "sigterm_drains": self.drained_workers,
            "crashes": self.unexpected_exits,
            "poison_published": self.poison_published,
            "poison_dead_lettered": self.poison_dead_lettered,
            "real_commands_dead_lettered": self.real_commands_dead_lettered,
            "faults": [f.kind for f in self.faults],
            "claims": dict(self.claims),
            "injected_http_faults": dict(self.injected),
            "wall_seconds": round(self.wall_seconds, 1),
            "drain_seconds": round(self.drain_seconds, 1),
        }

    def render(self) -> str:
        lines = [
            f"chaos run: {self.plan.commands} commands, {self.plan.workers} workers x {self.plan.slots} slots, "
            f"seed {self.plan.seed}",
            "faults (progress, seconds, what):",
            *(f"  {f.at_progress:5.0%} {f.seconds:6.1f}s  {f.kind}: {f.detail}" for f in self.faults),
            f"submitted                       {self.submitted}",
            f"completed                       {self.completed}",
            f"lost                            {self.lost}",
            f"commands run more than once     {len(self.double_runs)} ({self.extra_runs} extra runs)",
            f"  ...outside the SIGKILL window {len(self.unexplained_double_runs)}",
            f"injected SIGKILLs / drains      {self.killed_workers} / {self.drained_workers}",
            f"worker crashes (not injected)   {self.unexpected_exits}",
            f"poison published / dead-letter  {self.poison_published} / {self.poison_dead_lettered}",
            f"real commands dead-lettered     {self.real_commands_dead_lettered}",
            f"consumer settled (0 pending)    {self.consumer_settled}",
            f"claims                          {dict(self.claims)}",
            f"HTTP faults applied             {dict(self.injected)}",
            f"wall time                       {self.wall_seconds:.1f}s",
            f"time to drain after last fault  {self.drain_seconds:.1f}s",
        ]
        lines += [f"  double run outside window: {step}: {why}" for step, why in self.unexplained_double_runs.items()]
        lines += [f"  crash: {c.worker_id} exit {c.returncode}\n{c.log_tail}" for c in self.crashes]
        return "\n".join(lines)


# --------------------------------------------------------------------------- NATS topology


async def prepare_topology(nats_url: str | list[str], names: Mapping[str, str], *, replicas: int = 1) -> str:
    """Create the command stream, the durable consumer and a dead-letter stream; return the DLQ stream name.

    Created here rather than by the first worker so a cluster run gets three replicas, and so the consumer
    is exactly what the workers would have created (no drift warnings).
    """
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        subject = names["NATS_SUBJECT"]
        stream = StreamConfig(name=names["NATS_STREAM"], subjects=[subject, f"{subject}.>"], num_replicas=replicas)
        deadline = time.monotonic() + 30
        while True:
            try:
                await js.add_stream(stream)
                break
            except nats.errors.TimeoutError:
                # A fresh cluster answers JetStream API calls only once it has elected its meta leader.
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        await js.add_consumer(
            names["NATS_STREAM"],
            ConsumerConfig(
                durable_name=names["NATS_CONSUMER"],
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                filter_subject=subject,
                ack_wait=ACK_WAIT_SECONDS,
                max_deliver=1000,
                num_replicas=replicas,
            ),
        )
        dlq = f"DLQ_{names['NATS_STREAM']}"
        await js.add_stream(
            StreamConfig(name=dlq, subjects=[f"noetl.deadletter.{names['NATS_CONSUMER']}"], num_replicas=replicas)
        )
        return dlq
    finally:
        await nc.close()


def worker_env(plan: ChaosPlan, names: Mapping[str, str]) -> dict[str, str]:
    return {
        **names,
        "WORKER_MAX_CONCURRENT": str(plan.slots),
        "NATS_ACK_WAIT": f"{ACK_WAIT_SECONDS:g}",
        # A dropped response must not hold a slot for the default 30 s.
        "WORKER_HTTP_TIMEOUT": "5",
        "WORKER_DRAIN_DEADLINE": "20",
        "WORKER_OUTCOME_HOLD": "300",
        "WORKER_NATS_LAG_POLL_INTERVAL": "5",
    }


def standin_settings(plan: ChaosPlan, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "nats_stream": names["NATS_STREAM"],
        "nats_subject": names["NATS_SUBJECT"],
        "claim_lease_seconds": plan.lease_seconds,
        "worker_heartbeat_stale_seconds": 5,
        "reaper_interval_seconds": 2,
        "republish_delay_seconds": 15,
    }


# --------------------------------------------------------------------------- the run


class _Driver:
    def __init__(
        self,
        plan: ChaosPlan,
        admin: StandinAdmin,
        pool: WorkerPool,
        nats_url: str | list[str],
        names: Mapping[str, str],
        nats_faults: Mapping[str, NatsFault],
    ) -> None:
        self.plan = plan
        self.admin = admin
        self.pool = pool
        self.nats_url = nats_url
        self.names = names
        self.nats_faults = nats_faults
        self.rng = random.Random(plan.seed)
        self.poison_seqs: set[int] = set()
        self.execution_id = 0

    async def apply(self, kind: str) -> str:
        plan, admin = self.plan, self.admin
        if kind == "sigkill_worker":
            victim = await asyncio.to_thread(self.pool.sigkill_one, self.rng)
            return f"SIGKILL {victim}, replacement started"
        if kind == "sigterm_worker":
            victim = await asyncio.to_thread(self.pool.sigterm_one, self.rng)
            return f"SIGTERM {victim} -> exit {self.pool.drained[victim]}"
        if kind == "http_503_burst":
            await admin.inject_faults(saturation_ratio=0.6, saturation_retry_after=0.5, seed=plan.seed)
            await asyncio.sleep(plan.burst_seconds)
            await admin.clear_faults()
            return f"60% of /api answered 503 Retry-After 0.5 for {plan.burst_seconds:g}s"
        if kind == "control_plane_down":
            await admin.inject_faults(outage_seconds=plan.outage_seconds, outage_retry_after=1)
            await asyncio.sleep(plan.outage_seconds)
            await admin.clear_faults()
            return f"every /api call answered 503 for {plan.outage_seconds:g}s"
        if kind == "drop_after_commit":
            await admin.inject_faults(
                drop_ratio=0.3, drop_hold_seconds=1, paths=["/api/commands", "/api/events"], methods=["POST"],
                limit=10, seed=plan.seed,
            )  # fmt: skip
            await asyncio.sleep(plan.burst_seconds)
            await admin.clear_faults()
            return "up to 10 claim/event responses dropped after the write committed"
        if kind == "duplicates":
            view = await admin.job(self.execution_id)
            event_ids = [c.event_id for c in view.commands.values() if c.event_id is not None]
            chosen = self.rng.sample(event_ids, min(plan.duplicates, len(event_ids)))
            for event_id in chosen:
                await admin.publish(event_id)
            return f"{len(chosen)} pointers published again (pending, running and finished commands)"
        if kind == "poison":
            return await self._publish_poison()
        if kind in self.nats_faults:
            return await self.nats_faults[kind]()
        raise ValueError(f"unknown fault kind {kind!r}")

    async def _publish_poison(self) -> str:
        subject = self.names["NATS_SUBJECT"]
        url = self.admin.url
        ghost = {"execution_id": 12, "event_id": 987654321, "command_id": 5, "step": "ghost", "server_url": url}
        bodies = [
            b"\x00\xffnot json",
            b"[]",
            json.dumps({**ghost, "execution_id": "12"}).encode(),  # mistyped field
            json.dumps({"execution_id": 12, "event_id": 1, "step": "s"}).encode(),  # missing fields
            json.dumps(ghost).encode(),  # well formed, but no such command: claim 404
        ]
        nc = await nats.connect(self.nats_url)
        try:
            js = nc.jetstream()
            for body in bodies:
                ack = await js.publish(subject, body)
                self.poison_seqs.add(ack.seq)
        finally:
            await nc.close()
        return f"{len(bodies)} malformed/poison pointers published"


async def _progress(admin: StandinAdmin, execution_id: int) -> JobView:
    return await admin.job(execution_id)


def _done(view: JobView) -> int:
    return sum(1 for c in view.commands.values() if c.state == "done")


async def run_chaos(
    plan: ChaosPlan,
    *,
    admin: StandinAdmin,
    pool: WorkerPool,
    ledger: AttemptLedger,
    nats_url: str | list[str],
    names: Mapping[str, str],
    dlq_stream: str,
    nats_faults: Mapping[str, NatsFault],
    kinds: tuple[str, ...] | None = None,
) -> ChaosReport:
    """Run the job under the schedule; return the report (the caller asserts).

    ``kinds``: the faults to fire, in this order; by default every HTTP/process fault and every NATS fault,
    in a seeded random order.
    """
    report = ChaosReport(plan)
    driver = _Driver(plan, admin, pool, nats_url, names, nats_faults)
    planned = (
        schedule(plan, kinds, shuffle=False)
        if kinds is not None
        else schedule(plan, (*HTTP_AND_PROCESS_FAULTS, *nats_faults))
    )
    commands = [ledger.command(f"c{i:05d}", hold_seconds=plan.hold_seconds) for i in range(plan.commands)]

    started = time.monotonic()
    deadline = started + plan.timeout_seconds
    job = await admin.submit_job(commands)
    driver.execution_id = job.execution_id
    report.submitted = len(job.commands)
    last_fault_end = started
    for fault in planned:
        while True:
            await asyncio.to_thread(pool.audit)
            view = await _progress(admin, job.execution_id)
            if _done(view) >= fault.at * plan.commands or view.status is not JobStatus.RUNNING:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"chaos run stalled before fault {fault.kind} at {fault.at:.0%}: {_done(view)} done")
            await asyncio.sleep(0.25)
        begun = time.monotonic()
        detail = await driver.apply(fault.kind)
        last_fault_end = time.monotonic()
        report.faults.append(FaultRecord(fault.kind, _done(view) / plan.commands, last_fault_end - begun, detail))

    while True:
        await asyncio.to_thread(pool.audit)
        view = await _progress(admin, job.execution_id)
        if view.status is not JobStatus.RUNNING:
            break
        if time.monotonic() > deadline:
            open_commands = [name for name, c in view.commands.items() if c.state != "done"]
            raise TimeoutError(f"chaos run did not finish in {plan.timeout_seconds:g}s; open: {open_commands[:20]}")
        await asyncio.sleep(0.25)
    finished = time.monotonic()
    report.wall_seconds = finished - started
    report.drain_seconds = finished - last_fault_end

    report.consumer_settled = await _wait_settled(nats_url, names, timeout=3 * ACK_WAIT_SECONDS + 15)
    report.final_exit_codes = list((await asyncio.to_thread(pool.stop_all)).values())
    await _count(report, view, admin, ledger, pool, nats_url, dlq_stream, driver.poison_seqs)
    return report


async def _wait_settled(nats_url: str | list[str], names: Mapping[str, str], *, timeout: float) -> bool:
    """Every copy of every pointer (duplicates, redeliveries, poison) acked or terminated."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            info = await js.consumer_info(names["NATS_STREAM"], names["NATS_CONSUMER"])
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await nc.close()


async def _count(
    report: ChaosReport,
    view: JobView,
    admin: StandinAdmin,
    ledger: AttemptLedger,
    pool: WorkerPool,
    nats_url: str | list[str],
    dlq_stream: str,
    poison_seqs: set[int],
) -> None:
    await admin.drain()
    execution_id = view.execution_id
    report.completed = sum(1 for c in view.commands.values() if c.state == "done" and c.command_status == "COMPLETED")
    report.attempts = await ledger.attempts()
    report.lost = sum(1 for name in view.commands if report.attempts[name] == 0 or view.commands[name].state != "done")
    for event in await admin.events(execution_id, name="command.completed"):
        report.accepted_outcomes[event["node_name"]] += 1
    claimers: dict[str, list[str]] = {}
    for event in await admin.events(execution_id, name="command.claimed"):
        claimers.setdefault(event["node_name"], []).append(event["worker_id"])
    completers = {e["node_name"]: e["worker_id"] for e in await admin.events(execution_id, name="command.completed")}
    report.double_runs = {step: n for step, n in report.attempts.items() if n > 1}
    for step, runs in report.double_runs.items():
        # The only unavoidable second run: an earlier claimer was SIGKILLed after its tool ran and before
        # its outcome was accepted. So every claimer but the one whose outcome was accepted must be a
        # worker we killed, and there can be no more extra runs than such killed claimers.
        earlier = [w for w in claimers.get(step, []) if w != completers.get(step)]
        not_killed = [w for w in earlier if w not in pool.killed]
        if not_killed or runs - 1 > len(earlier):
            report.unexplained_double_runs[step] = (
                f"{runs} runs; claimed by {claimers.get(step)}, completed by {completers.get(step)}, "
                f"killed: {sorted(set(earlier) & set(pool.killed))}"
            )
    counters = await admin.counters()
    report.claims = Counter(counters["claims"])
    report.injected = Counter(counters["faults"])
    report.killed_workers = len(pool.killed)
    report.drained_workers = len(pool.drained)
    report.drain_exit_codes = list(pool.drained.values())
    report.crashes = list(pool.crashes)
    report.poison_published = len(poison_seqs)
    dead = await _dead_letters(nats_url, dlq_stream)
    report.poison_dead_lettered = len({seq for seq in dead if seq in poison_seqs})
    report.real_commands_dead_lettered = len({seq for seq in dead if seq not in poison_seqs})


async def _dead_letters(nats_url: str | list[str], dlq_stream: str) -> list[int]:
    """Original stream sequence of every dead-letter record."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(dlq_stream)
        seqs = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
            record = json.loads((await js.get_msg(dlq_stream, seq)).data or b"{}")
            seqs.append(int(record["stream_seq"]))
        return seqs
    finally:
        await nc.close()
