"""The JetStream side of a chaos run: stream, consumer and dead-letter stream; settling; reading dead letters."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from tests.chaos.plan import ACK_WAIT_SECONDS

__all__ = ["dead_letter_sequences", "prepare_topology", "wait_settled"]


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
        await js.add_stream(stream)  # a cluster from tests.support.nats_cluster already has its meta leader
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


async def wait_settled(nats_url: str | list[str], names: Mapping[str, str], *, timeout: float) -> bool:
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


async def dead_letter_sequences(nats_url: str | list[str], dlq_stream: str) -> list[int]:
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
