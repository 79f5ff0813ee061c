"""Consumer-lag gauges (``noetl_worker_nats_consumer_pending`` / ``_ack_pending``), informational only.

One ``consumer_info`` call per interval; unlike the seed it never blocks the pull path.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext

from noetl_worker.runtime.metrics import WorkerMetrics

__all__ = ["poll_lag_forever"]

log = logging.getLogger("noetl_worker.runtime")

_I64_MAX = 2**63 - 1


async def poll_lag_forever(
    js: JetStreamContext, stream: str, consumer: str, metrics: WorkerMetrics, interval: float
) -> None:
    pending = metrics.consumer_pending.labels(stream=stream, consumer=consumer)
    ack_pending = metrics.consumer_ack_pending.labels(stream=stream, consumer=consumer)
    while True:
        try:
            info = await js.consumer_info(stream, consumer, timeout=min(interval, 5.0))
        except Exception as exc:
            # Informational only: a failed poll must not end the poller.
            log.debug(f"consumer lag poll failed (gauges stale until the next tick): {type(exc).__name__}: {exc}")
        else:
            pending.set(min(info.num_pending or 0, _I64_MAX))
            ack_pending.set(min(info.num_ack_pending or 0, _I64_MAX))
        await asyncio.sleep(interval)
