"""Snowflake ids, bit-compatible with the NoETL workers' generators.

Layout (64 bits, top bit 0): 41 bits of milliseconds since the epoch (default 2024-01-01T00:00:00Z),
10 bits of node id, 12 bits of per-millisecond sequence. The node id comes from
``NOETL_SNOWFLAKE_NODE_ID``, else ``NOETL_SHARD_ID``, else FNV-1a-64 of the worker id masked to 10 bits,
so two workers on different hosts almost never collide without any coordination.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

__all__ = [
    "DEFAULT_EPOCH_MS",
    "NODE_BITS",
    "SEQUENCE_BITS",
    "SnowflakeGenerator",
    "SnowflakeParts",
    "decompose",
    "fnv1a_64",
    "node_id_for",
]

DEFAULT_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
TIMESTAMP_BITS = 41
NODE_BITS = 10
SEQUENCE_BITS = 12
_NODE_MASK = (1 << NODE_BITS) - 1
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1
_TIMESTAMP_MASK = (1 << TIMESTAMP_BITS) - 1

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_U64 = (1 << 64) - 1


def fnv1a_64(data: bytes) -> int:
    """FNV-1a, 64-bit."""
    digest = _FNV_OFFSET
    for byte in data:
        digest = ((digest ^ byte) * _FNV_PRIME) & _U64
    return digest


def node_id_for(worker_id: str, env: Mapping[str, str] | None = None) -> int:
    """The 10-bit node id: ``NOETL_SNOWFLAKE_NODE_ID`` → ``NOETL_SHARD_ID`` → FNV-1a-64(worker id)."""
    environ = os.environ if env is None else env
    for name in ("NOETL_SNOWFLAKE_NODE_ID", "NOETL_SHARD_ID"):
        raw = environ.get(name, "").strip()
        if raw:
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not an integer") from None
            if not 0 <= value <= _NODE_MASK:
                raise ValueError(f"{name}={value} is outside 0..{_NODE_MASK}")
            return value
    return fnv1a_64(worker_id.encode("utf-8")) & _NODE_MASK


class SnowflakeParts(NamedTuple):
    timestamp_ms: int
    node_id: int
    sequence: int


def decompose(snowflake: int, *, epoch_ms: int = DEFAULT_EPOCH_MS) -> SnowflakeParts:
    """Split an id into (unix milliseconds, node id, sequence)."""
    return SnowflakeParts(
        timestamp_ms=(snowflake >> (NODE_BITS + SEQUENCE_BITS)) + epoch_ms,
        node_id=(snowflake >> SEQUENCE_BITS) & _NODE_MASK,
        sequence=snowflake & _SEQUENCE_MASK,
    )


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class SnowflakeGenerator:
    """Thread-safe, strictly increasing id generator for one process.

    A clock that steps backwards is clamped to the last timestamp used (ids keep increasing); when
    4096 ids are drawn in one millisecond the generator waits for the next one.
    """

    def __init__(
        self, node_id: int, *, epoch_ms: int = DEFAULT_EPOCH_MS, clock_ms: Callable[[], int] = _wall_clock_ms
    ) -> None:
        if not 0 <= node_id <= _NODE_MASK:
            raise ValueError(f"snowflake node id must be in 0..{_NODE_MASK}, got {node_id}")
        self.node_id = node_id
        self.epoch_ms = epoch_ms
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    @classmethod
    def for_worker(cls, worker_id: str, *, env: Mapping[str, str] | None = None) -> SnowflakeGenerator:
        """A generator whose node id follows the environment / worker-id rule."""
        return cls(node_id_for(worker_id, env))

    def next_id(self) -> int:
        with self._lock:
            now = max(self._clock_ms() - self.epoch_ms, self._last_ms)
            if now < 0:
                raise ValueError("system clock is before the snowflake epoch")
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & _SEQUENCE_MASK
                if self._sequence == 0:
                    while now <= self._last_ms:
                        now = self._clock_ms() - self.epoch_ms
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now & _TIMESTAMP_MASK) << (NODE_BITS + SEQUENCE_BITS))
                | (self.node_id << SEQUENCE_BITS)
                | self._sequence
            )

    __call__ = next_id
