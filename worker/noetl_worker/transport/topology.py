"""Get-or-create the command stream and the durable pull consumer — and never quietly change someone else's.

The stream is created (subjects ``[NATS_SUBJECT, NATS_SUBJECT.>]``) only when missing; an existing stream is
used as is. The consumer is created only when missing (explicit ack, ``NATS_FILTER_SUBJECT``, our
``ack_wait``/``max_deliver``). An existing consumer is reused; settings that differ from ours are logged as
drift and changed only with ``NATS_RECONCILE_CONSUMER=true``. A consumer that cannot work at all (push
delivery, or no explicit acks) is a start-up error, because acking would silently do nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from noetl_worker.settings import WorkerSettings

__all__ = ["ConsumerTopology", "TopologyError", "ensure_topology"]

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
    subjects = [settings.nats_subject, f"{settings.nats_subject}.>"]
    try:
        await js.add_stream(StreamConfig(name=settings.nats_stream, subjects=subjects))
        log.info(f"created stream {settings.nats_stream} with subjects {subjects}")
    except BadRequestError:
        # Another worker created it between our lookup and our create; use theirs.
        await js.stream_info(settings.nats_stream)


def _wanted(settings: WorkerSettings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=settings.nats_consumer,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=settings.filter_subject,
        ack_wait=settings.nats_ack_wait,
        max_deliver=settings.nats_max_deliver,
    )


async def ensure_topology(js: JetStreamContext, settings: WorkerSettings) -> ConsumerTopology:
    """Make sure the stream and the durable consumer exist; return what the pull loop needs to know."""
    await _ensure_stream(js, settings)
    wanted = _wanted(settings)
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
        for key in ("filter_subject", "ack_wait", "max_deliver")
        if getattr(config, key) not in (getattr(wanted, key), None)
        and not (key == "filter_subject" and getattr(config, key) in ("", ">") and wanted.filter_subject is None)
    }
    if drift:
        shown = ", ".join(f"{k}={have!r} (ours {want!r})" for k, (have, want) in drift.items())
        if settings.nats_reconcile_consumer:
            info = await js.add_consumer(settings.nats_stream, wanted)
            config = info.config
            log.warning(f"{where} drifted ({shown}); reconciled because NATS_RECONCILE_CONSUMER=true")
        else:
            log.warning(f"{where} differs from this worker's settings ({shown}); using it unchanged")
    return ConsumerTopology(settings.nats_stream, settings.nats_consumer, float(config.ack_wait or 30.0))
