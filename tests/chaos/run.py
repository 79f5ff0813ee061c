"""One chaos run: submit a job of N ledger commands, fire the schedule, wait, count.

NATS faults are supplied by the caller (a single server restarts; a cluster loses its stream or consumer
leader); everything else is in :mod:`tests.chaos.faults`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping

from noetl_standin.admin import StandinAdmin
from noetl_standin.jobs import JobStatus, JobView

from tests.chaos.faults import FaultDriver
from tests.chaos.ledger import AttemptLedger
from tests.chaos.plan import ACK_WAIT_SECONDS, HTTP_AND_PROCESS_FAULTS, ChaosPlan, NatsFault, schedule
from tests.chaos.pool import WorkerPool
from tests.chaos.report import ChaosReport, FaultRecord
from tests.chaos.topology import dead_letter_sequences, wait_settled

__all__ = ["run_chaos"]


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
    driver = FaultDriver(plan, admin, pool, nats_url, names, nats_faults)
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
            view = await admin.job(job.execution_id)
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
        view = await admin.job(job.execution_id)
        if view.status is not JobStatus.RUNNING:
            break
        if time.monotonic() > deadline:
            open_commands = [name for name, c in view.commands.items() if c.state != "done"]
            raise TimeoutError(f"chaos run did not finish in {plan.timeout_seconds:g}s; open: {open_commands[:20]}")
        await asyncio.sleep(0.25)
    finished = time.monotonic()
    report.wall_seconds = finished - started
    report.drain_seconds = finished - last_fault_end

    report.consumer_settled = await wait_settled(nats_url, names, timeout=3 * ACK_WAIT_SECONDS + 15)
    report.final_exit_codes = list((await asyncio.to_thread(pool.stop_all)).values())
    await _count(report, view, admin, ledger, pool, nats_url, dlq_stream, driver.poison_seqs)
    return report


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
    takeovers: dict[str, list[str]] = {}
    for event in await admin.events(execution_id, name="command.claimed"):
        claimers.setdefault(event["node_name"], []).append(event["worker_id"])
        meta = event.get("meta") or {}
        if meta.get("reclaimed"):
            previous = meta.get("reclaimed_from_worker")
            state = "killed" if previous in pool.killed else "drained" if previous in pool.drained else "live"
            report.reclaims[f"{meta.get('reclaimed_reason')} from {state} worker"] += 1
            takeovers.setdefault(event["node_name"], []).append(
                f"{event['worker_id']} took it from {state} {previous} ({meta.get('reclaimed_reason')})"
            )
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
                f"killed: {sorted(set(earlier) & set(pool.killed))}; takeovers: {takeovers.get(step, [])}"
            )
    counters = await admin.counters()
    report.claims = Counter(counters["claims"])
    report.injected = Counter(counters["faults"])
    report.killed_workers = len(pool.killed)
    report.drained_workers = len(pool.drained)
    report.drain_exit_codes = list(pool.drained.values())
    report.crashes = list(pool.crashes)
    report.poison_published = len(poison_seqs)
    dead = await dead_letter_sequences(nats_url, dlq_stream)
    report.poison_dead_lettered = len({seq for seq in dead if seq in poison_seqs})
    report.real_commands_dead_lettered = len({seq for seq in dead if seq not in poison_seqs})
    report.dead_letter_log = [
        f"{worker}: {line}"
        for worker, text in pool.logs().items()
        for line in text.splitlines()
        if "poison" in line or "dead letter" in line or "terminating the message" in line
    ]
