"""The command stream and its durable consumers: one definition for the worker, the operator and the stand-in.

Stream: created exactly as the NoETL server creates it (wire capture ``nats_jetstream_config.json``): subjects
``[<subject>, <subject>.>]``, memory storage, one hour ``max_age``, limits retention. The stream belongs to
the control plane; whoever creates it first creates this, never an unbounded file-backed copy.

Consumer (the durable a pool pulls from), chosen deliberately:

* ``deliver_policy=new``, as upstream: a new durable on a stream that keeps an hour of pointers must not
  claim every finished command again. A command published before the durable existed is not lost: the
  control plane re-publishes pending commands (and commands whose holder is gone) until one is claimed.
* ``ack_wait`` 30 s with ``in_progress`` keep-alives every ``ack_wait / 3``: a running command is never
  redelivered however long it runs, and the commands of a SIGKILLed worker come back within 30 s of the kill
  (then the control plane's claim lease decides whether another worker may take them over).
* ``max_deliver`` 10: a command that keeps killing its worker reaches the dead letters instead of
  crash-looping the pool; naks during a control-plane outage back off (0.25 s doubling to 30 s), and a
  command dropped after ten deliveries is re-published by the control plane.
* ``max_ack_pending`` 1000 (keep it >= replicas x slots, or the pool stalls below its slots).
"""

from __future__ import annotations

from collections.abc import Sequence

from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    ReplayPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

__all__ = [
    "COMMAND_STREAM_MAX_AGE_SECONDS",
    "DEFAULT_ACK_WAIT_SECONDS",
    "DEFAULT_MAX_ACK_PENDING",
    "DEFAULT_MAX_DELIVER",
    "DELIVER_POLICY",
    "as_update_of",
    "command_consumer_config",
    "command_stream_config",
    "command_stream_subjects",
]

COMMAND_STREAM_MAX_AGE_SECONDS = 3600.0
DELIVER_POLICY = DeliverPolicy.NEW
DEFAULT_ACK_WAIT_SECONDS = 30
DEFAULT_MAX_DELIVER = 10
DEFAULT_MAX_ACK_PENDING = 1000


def command_stream_subjects(subject: str) -> list[str]:
    """The base subject and every pool-routed subject below it."""
    return [subject, f"{subject}.>"]


def command_stream_config(name: str, subject: str) -> StreamConfig:
    """The command stream as the NoETL server creates it."""
    return StreamConfig(
        name=name,
        subjects=command_stream_subjects(subject),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.MEMORY,
        max_age=COMMAND_STREAM_MAX_AGE_SECONDS,
    )


def command_consumer_config(
    *,
    durable_name: str,
    filter_subject: str | None,
    ack_wait: float = DEFAULT_ACK_WAIT_SECONDS,
    max_deliver: int = DEFAULT_MAX_DELIVER,
    max_ack_pending: int = DEFAULT_MAX_ACK_PENDING,
    backoff: Sequence[float] = (),
    description: str | None = None,
) -> ConsumerConfig:
    """The durable pull consumer a pool's workers share (explicit acks, ``deliver_policy=new``)."""
    return ConsumerConfig(
        durable_name=durable_name,
        description=description,
        deliver_policy=DELIVER_POLICY,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=float(ack_wait),
        max_deliver=max_deliver,
        max_ack_pending=max_ack_pending,
        backoff=[float(value) for value in backoff] or None,
        filter_subject=filter_subject,
        replay_policy=ReplayPolicy.INSTANT,
    )


def as_update_of(desired: ConsumerConfig, current: ConsumerConfig) -> ConsumerConfig:
    """``desired`` as an update of the existing ``current``: JetStream refuses to move where a durable starts
    (``deliver policy can not be updated``), so an older durable keeps its deliver policy and start point."""
    return desired.evolve(
        deliver_policy=current.deliver_policy,
        opt_start_seq=current.opt_start_seq,
        opt_start_time=current.opt_start_time,
    )
