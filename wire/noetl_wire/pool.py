"""``GET /api/pool/status``: the server's database pool load, polled by adaptive-concurrency clients."""

from __future__ import annotations

from noetl_wire._base import WireModel

__all__ = ["PoolStatus"]


class PoolStatus(WireModel):
    pool_min: int | None = None
    pool_max: int
    pool_size: int | None = None
    pool_available: int
    requests_waiting: int
    utilization: float
    slots_available: int
    status: str
