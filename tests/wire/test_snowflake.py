"""Snowflake ids: layout, node id rule and monotonicity, against hand-computed values."""

from __future__ import annotations

import threading

import pytest
from noetl_wire.snowflake import DEFAULT_EPOCH_MS, SnowflakeGenerator, decompose, fnv1a_64, node_id_for

pytestmark = pytest.mark.unit


class FakeClock:
    """A settable millisecond clock (a clock is input data here, not a server to run)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_fnv1a_64_matches_published_vectors() -> None:
    assert fnv1a_64(b"") == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a_64(b"foobar") == 0x85944171F73967E8


def test_node_id_env_precedence_and_fallback() -> None:
    assert node_id_for("a", {}) == 0xAF63DC4C8601EC8C & 0x3FF == 140
    assert node_id_for("a", {"NOETL_SHARD_ID": "7"}) == 7
    assert node_id_for("a", {"NOETL_SNOWFLAKE_NODE_ID": "9", "NOETL_SHARD_ID": "7"}) == 9
    with pytest.raises(ValueError, match="NOETL_SHARD_ID"):
        node_id_for("a", {"NOETL_SHARD_ID": "x"})
    with pytest.raises(ValueError, match="outside"):
        node_id_for("a", {"NOETL_SNOWFLAKE_NODE_ID": "1024"})


def test_layout_is_41_ms_10_node_12_sequence() -> None:
    clock = FakeClock(DEFAULT_EPOCH_MS + 1000)
    generator = SnowflakeGenerator(5, clock_ms=clock)
    # 1000 << 22 | 5 << 12 | 0 == 4194304000 + 20480
    assert generator.next_id() == 4_194_324_480
    assert generator.next_id() == 4_194_324_481
    clock.ms += 1
    assert generator.next_id() == (1001 << 22) | (5 << 12)
    assert decompose(4_194_324_481) == (DEFAULT_EPOCH_MS + 1000, 5, 1)


def test_a_clock_going_backwards_is_clamped_so_ids_keep_increasing() -> None:
    clock = FakeClock(DEFAULT_EPOCH_MS + 5000)
    generator = SnowflakeGenerator(1, clock_ms=clock)
    first = generator.next_id()
    clock.ms -= 3000
    second = generator.next_id()
    assert second == first + 1
    assert decompose(second).timestamp_ms == DEFAULT_EPOCH_MS + 5000


def test_sequence_exhaustion_waits_for_the_next_millisecond() -> None:
    ticks = iter([DEFAULT_EPOCH_MS + 10] * 4097 + [DEFAULT_EPOCH_MS + 10, DEFAULT_EPOCH_MS + 11])
    generator = SnowflakeGenerator(0, clock_ms=lambda: next(ticks))
    ids = [generator.next_id() for _ in range(4097)]
    assert ids[4095] == (10 << 22) | 4095
    assert ids[4096] == 11 << 22


def test_node_id_is_range_checked() -> None:
    with pytest.raises(ValueError, match="node id"):
        SnowflakeGenerator(1024)


def test_ids_are_unique_and_increasing_across_threads() -> None:
    generator = SnowflakeGenerator.for_worker("worker-x", env={})
    results: list[list[int]] = [[] for _ in range(4)]

    def draw(bucket: list[int]) -> None:
        bucket.extend(generator.next_id() for _ in range(5000))

    threads = [threading.Thread(target=draw, args=(bucket,)) for bucket in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = [i for bucket in results for i in bucket]
    assert len(set(merged)) == 20_000
    assert all(bucket == sorted(bucket) for bucket in results)
    assert all(0 < i < 2**63 for i in merged)
