"""Get-or-create the command stream and the durable pull consumer — and never quietly change someone else's.

Both shapes are the shared :mod:`noetl_wire.jetstream` definitions. The stream belongs to the control plane:
when it is missing the worker creates it exactly as the NoETL server does (``[NATS_SUBJECT, NATS_SUBJECT.>]``,
memory storage, one hour ``max_age``), never with unbounded retention; an existing stream is used as is. The
consumer is created only when missing (explicit ack, ``deliver_policy=new``, ``NATS_FILTER_SUBJECT``,
``NATS_ACK_WAIT``/``NATS_MAX_DELIVER``/``NATS_MAX_ACK_PENDING``). An existing consumer is reused; settings
that differ from ours are logged as drift and changed only with ``NATS_RECONCILE_CONSUMER=true``. A consumer
that cannot work at all (push delivery, or no explicit acks) is a start-up error, because acking would
silently do nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import BadRequestError, NotFoundError
from noetl_wire.jetstream import as_update_of, command_consumer_config, command_stream_config

from noetl_worker.settings import WorkerSettings

__all__ = ["ConsumerTopology", "TopologyError", "ensure_topology", "wanted_consumer"]

log = logging.getLogger("noetl_worker.transport")


class TopologyError(RuntimeError):
    """The stream or consumer exists in a shape the worker cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class ConsumerTopology:
    stream: str
    consumer: str
    ack_wait: float
    """Seconds before an un-acked message is redelivered; ``in_progress`` is sent well inside it."""


async def _ensure_stream(js: JetStreamContext, settings: WorkerSettings) -> None:
    try:
        await js.stream_info(settings.nats_stream)
        return
    except NotFoundError:
        pass
    config = command_stream_config(settings.nats_stream, settings.nats_subject)
    try:
        await js.add_stream(config)
        log.info(
            f"created stream {settings.nats_stream} as the NoETL server does (subjects {config.subjects}, "
            f"memory storage, max_age {config.max_age:g}s)"
        )
    except BadRequestError:
        # Another worker created it between our lookup and our create; use theirs.
        await js.stream_info(settings.nats_stream)


def wanted_consumer(settings: WorkerSettings) -> ConsumerConfig:
    """The durable this worker creates when there is none: the shared definition with this worker's settings."""
    return command_consumer_config(
        durable_name=settings.nats_consumer,
        filter_subject=settings.filter_subject,
        ack_wait=settings.nats_ack_wait,
        max_deliver=settings.nats_max_deliver,
        max_ack_pending=settings.nats_max_ack_pending,
    )


async def ensure_topology(js: JetStreamContext, settings: WorkerSettings) -> ConsumerTopology:
    """Make sure the stream and the durable consumer exist; return what the pull loop needs to know."""
    await _ensure_stream(js, settings)
    wanted = wanted_consumer(settings)
    try:
        info = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    except NotFoundError:
        try:
            info = await js.add_consumer(settings.nats_stream, wanted)
            log.info(
                f"created consumer {settings.nats_consumer} on {settings.nats_stream} "
                f"(filter {settings.filter_subject}, ack_wait {settings.nats_ack_wait:g}s)"
            )
        except BadRequestError:
            info = await js.consumer_info(settings.nats_stream, settings.nats_consumer)
    config = info.config
    where = f"consumer {settings.nats_consumer} on stream {settings.nats_stream}"
    if config.deliver_subject:
        raise TopologyError(f"{where} is a push consumer (deliver_subject {config.deliver_subject}); need a pull one")
    if config.ack_policy not in (AckPolicy.EXPLICIT, None):
        raise TopologyError(f"{where} has ack_policy {config.ack_policy}; the worker needs explicit acks")
    drift = {
        key: (getattr(config, key), getattr(wanted, key))
        for key in ("filter_subject", "ack_wait", "max_deliver", "max_ack_pending")
        if getattr(config, key) not in (getattr(wanted, key), None)
        and not (key == "filter_subject" and getattr(config, key) in ("", ">") and wanted.filter_subject is None)
    }
    if drift:
        shown = ", ".join(f"{k}={have!r} (ours {want!r})" for k, (have, want) in drift.items())
        if settings.nats_reconcile_consumer:
            info = await js.add_consumer(settings.nats_stream, as_update_of(wanted, config))
            config = info.config
            log.warning(f"{where} drifted ({shown}); reconciled because NATS_RECONCILE_CONSUMER=true")
        else:
            log.warning(f"{where} differs from this worker's settings ({shown}); using it unchanged")
    return ConsumerTopology(settings.nats_stream, settings.nats_consumer, float(config.ack_wait or 30.0))
