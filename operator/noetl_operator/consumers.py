"""The one JetStream consumer-management module: ensure (``managed``) or read (``observe``) a pool's durable.

``managed`` creates or updates the durable to the spec and keeps a dead-letter stream that captures the
consumer's max-deliveries and terminated-message advisories (the advisory carries the stream sequence, so
the original message can still be fetched from the command stream) and the copies the python worker
publishes, with the reason, on ``noetl.deadletter.<stream>.<durable>``. ``observe`` never writes. Both report
the lag KEDA scales on: ``num_pending`` and ``num_ack_pending``. A NATS outage is a report, not an error:
the reconciler turns it into ``ConsumerReady=False`` and tries again on the next resync. The operator
passes its shared :class:`~noetl_operator.natspool.NatsConnections`; without them a check opens and closes
a connection of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import ConsumerConfig, RetentionPolicy, StorageType
from nats.js.errors import APIError, NotFoundError
from noetl_wire.jetstream import as_update_of, command_consumer_config
from noetl_wire.natsconnect import NatsUnreachableError

from noetl_operator.natspool import NatsAccess, NatsConnections, connect_once
from noetl_operator.spec import ConsumerManagement, NoetlWorkerPool

__all__ = [
    "ConsumerReport",
    "NatsAccess",
    "dead_letter_stream_name",
    "dead_letter_subjects",
    "delete_managed",
    "desired_config",
    "reconcile_consumer",
    "worker_dead_letter_subject",
]

_DLQ_MAX_AGE_SECONDS = 14 * 24 * 3600
_DLQ_MAX_MSGS = 100_000


@dataclass(frozen=True)
class ConsumerReport:
    """Outcome of one consumer check, ready to become the ConsumerReady condition and the lag."""

    ready: bool
    reason: str
    message: str
    num_pending: int | None = None
    num_ack_pending: int | None = None


def dead_letter_stream_name(pool: NoetlWorkerPool) -> str:
    """``DLQ_<stream>_<durable>``: one dead-letter stream per durable."""
    return f"DLQ_{pool.spec.nats.stream}_{pool.spec.consumer.durable_name}"


def worker_dead_letter_subject(pool: NoetlWorkerPool) -> str:
    """Where the python worker publishes a copy (with the reason) of every message it terminates."""
    # The stream is part of it: two pools may share a durable name on different streams.
    return f"noetl.deadletter.{pool.spec.nats.stream}.{pool.spec.consumer.durable_name}"


def dead_letter_subjects(pool: NoetlWorkerPool) -> list[str]:
    """The JetStream advisories emitted when this durable gives up on a message, and the worker's copies."""
    suffix = f"{pool.spec.nats.stream}.{pool.spec.consumer.durable_name}"
    return [
        f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{suffix}",
        f"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{suffix}",
        worker_dead_letter_subject(pool),
    ]


def desired_config(pool: NoetlWorkerPool) -> ConsumerConfig:
    """The durable's configuration for ``managed`` pools."""
    consumer = pool.spec.consumer
    # The same definition the worker creates when it finds no durable (deliver_policy=new: see
    # noetl_wire.jetstream for why), so whoever creates it first, the durable is the same.
    return command_consumer_config(
        durable_name=consumer.durable_name,
        description=f"managed by noetl-operator for {pool.metadata.namespace}/{pool.metadata.name}",
        ack_wait=consumer.ack_wait_seconds,
        max_deliver=consumer.max_deliver,
        max_ack_pending=consumer.max_ack_pending,
        backoff=consumer.backoff_seconds,
        filter_subject=pool.spec.filter_subject,
    )


# The fields the operator owns on a managed durable; the rest is left to the server's defaults.
_COMPARED = ("filter_subject", "ack_wait", "max_deliver", "max_ack_pending", "backoff", "description")


def _drift(current: ConsumerConfig, desired: ConsumerConfig) -> list[str]:
    def norm(name: str, value: Any) -> Any:
        if name == "backoff":
            return list(value or [])
        return value

    # With a backoff list the server derives ack_wait from its first entry, so ack_wait is not ours then.
    compared = [name for name in _COMPARED if not (name == "ack_wait" and desired.backoff)]
    return [name for name in compared if norm(name, getattr(current, name)) != norm(name, getattr(desired, name))]


class _Unreachable(Exception):
    def __init__(self, report: ConsumerReport) -> None:
        self.report = report


@asynccontextmanager
async def _session(access: NatsAccess, connections: NatsConnections | None) -> AsyncIterator[Client]:
    """A client for one check: shared from ``connections``, else a connection of its own, closed after."""
    try:
        client = await (connections.client(access) if connections is not None else connect_once(access))
    except NatsUnreachableError as error:  # already "nats: cannot connect to <host:port>: <why>"
        raise _Unreachable(ConsumerReport(False, "NatsUnavailable", str(error))) from None
    except (NatsError, OSError, TimeoutError) as error:
        raise _Unreachable(
            ConsumerReport(False, "NatsUnavailable", f"cannot connect to {access.url}: {error or type(error).__name__}")
        ) from None
    try:
        yield client
    except (NatsError, OSError, TimeoutError) as error:
        # A shared connection is not dropped here: others may be mid-request on it, and one that is really
        # gone is no longer `is_connected`, so the next check replaces it.
        raise _Unreachable(
            ConsumerReport(False, "NatsUnavailable", f"JetStream request failed: {error or type(error).__name__}")
        ) from None
    finally:
        if connections is None:
            await client.close()


async def reconcile_consumer(
    pool: NoetlWorkerPool,
    access: NatsAccess,
    connections: NatsConnections | None = None,
    *,
    verify_streams: bool = True,
) -> ConsumerReport:
    """Ensure (managed) or observe the durable; never raises for NATS or JetStream failures.

    ``verify_streams=False`` is the cheap periodic check of a managed durable: when the durable exists as
    specified, the command stream and the dead-letter stream are not re-checked (one request, not three).
    """
    try:
        async with _session(access, connections) as client:
            if pool.spec.consumer.management is ConsumerManagement.MANAGED:
                return await _managed(client, pool, verify_streams=verify_streams)
            return await _observed(client, pool)
    except _Unreachable as unreachable:
        return unreachable.report


def _lag(report: ConsumerReport, info: Any) -> ConsumerReport:
    return ConsumerReport(
        report.ready, report.reason, report.message, int(info.num_pending or 0), int(info.num_ack_pending or 0)
    )


async def _stream_exists(client: Client, stream: str) -> bool:
    try:
        await client.jetstream().stream_info(stream)
    except NotFoundError:
        return False
    return True


async def _observed(client: Client, pool: NoetlWorkerPool) -> ConsumerReport:
    spec = pool.spec
    js = client.jetstream()
    try:
        info = await js.consumer_info(spec.nats.stream, spec.consumer.durable_name)
    except NotFoundError:
        where = f"{spec.nats.stream}/{spec.consumer.durable_name}"
        if not await _stream_exists(client, spec.nats.stream):
            return ConsumerReport(False, "StreamMissing", f"stream {spec.nats.stream} does not exist")
        return ConsumerReport(False, "ConsumerMissing", f"durable {where} does not exist (management: observe)")
    actual = info.config.filter_subject or ""
    if actual != spec.filter_subject:
        return _lag(
            ConsumerReport(
                False,
                "FilterMismatch",
                f"durable filters {actual or '(nothing)'!r}, the pool expects {spec.filter_subject!r}",
            ),
            info,
        )
    return _lag(ConsumerReport(True, "Observed", "durable exists with the expected filter subject"), info)


async def _managed(client: Client, pool: NoetlWorkerPool, *, verify_streams: bool) -> ConsumerReport:
    spec = pool.spec
    js = client.jetstream()
    if not verify_streams:
        # One request when all is well; anything else takes the full path below.
        with contextlib.suppress(NotFoundError):
            current = await js.consumer_info(spec.nats.stream, spec.consumer.durable_name)
            if not _drift(current.config, desired_config(pool)):
                return _lag(ConsumerReport(True, "InSync", "durable matches the spec"), current)
    if not await _stream_exists(client, spec.nats.stream):
        return ConsumerReport(
            False,
            "StreamMissing",
            f"stream {spec.nats.stream} does not exist; the NoETL server or the first worker creates it",
        )
    try:
        await _ensure_dead_letter_stream(client, pool)
    except APIError as error:
        # e.g. the worker's dead-letter subject overlaps another stream's subjects.
        return ConsumerReport(
            False,
            "DeadLetterStreamRejected",
            f"JetStream refused the dead-letter stream {dead_letter_stream_name(pool)}: {error.description}",
        )
    desired = desired_config(pool)
    try:
        current = await js.consumer_info(spec.nats.stream, spec.consumer.durable_name)
    except NotFoundError:
        info = await js.add_consumer(spec.nats.stream, desired)
        return _lag(ConsumerReport(True, "Created", "durable created"), info)
    drift = _drift(current.config, desired)
    if not drift:
        return _lag(ConsumerReport(True, "InSync", "durable matches the spec"), current)
    try:
        info = await js.add_consumer(spec.nats.stream, as_update_of(desired, current.config))
    except APIError as error:
        return _lag(
            ConsumerReport(
                False, "UpdateRejected", f"JetStream refused to update {', '.join(drift)}: {error.description}"
            ),
            current,
        )
    return _lag(ConsumerReport(True, "Updated", f"durable updated ({', '.join(drift)})"), info)


async def _ensure_dead_letter_stream(client: Client, pool: NoetlWorkerPool) -> None:
    js = client.jetstream()
    name = dead_letter_stream_name(pool)
    subjects = dead_letter_subjects(pool)
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=float(_DLQ_MAX_AGE_SECONDS),
            max_msgs=_DLQ_MAX_MSGS,
            description=f"dead letters of {pool.spec.nats.stream}/{pool.spec.consumer.durable_name}",
        )
        return
    if sorted(info.config.subjects or []) != sorted(subjects):
        await js.update_stream(info.config.evolve(subjects=subjects))


async def delete_managed(
    pool: NoetlWorkerPool, access: NatsAccess, connections: NatsConnections | None = None
) -> ConsumerReport:
    """On pool deletion: remove a managed durable unless ``preventDelete``; the dead letters are kept.

    Never raises for NATS failures: a report that is not ``ready`` tells the caller to retry or give up.
    """
    consumer = pool.spec.consumer
    if consumer.management is not ConsumerManagement.MANAGED or consumer.prevent_delete:
        return ConsumerReport(True, "Kept", "durable left in place (observe, or consumer.preventDelete)")
    try:
        async with _session(access, connections) as client:
            try:
                await client.jetstream().delete_consumer(pool.spec.nats.stream, consumer.durable_name)
            except NotFoundError:
                return ConsumerReport(True, "AlreadyGone", "durable did not exist")
    except _Unreachable as unreachable:
        return unreachable.report
    return ConsumerReport(True, "Deleted", "durable deleted")
