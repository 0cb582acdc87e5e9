"""Our murmur2 partitioner agrees with Kafka's (the values are Kafka's own murmur2 test
vectors, as signed 32-bit integers); the real broker check is in tests/integration."""

from __future__ import annotations

import pytest

from opdbus.kafka import murmur2, partition_of


def signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_kafkas_test_vectors(key, expected):
    assert signed(murmur2(key)) == expected


def test_a_partition_is_the_positive_hash_modulo_the_count():
    assert partition_of(b"foobar", 6) == (-790332482 & 0x7FFFFFFF) % 6
    assert {partition_of(str(n).encode(), 6) for n in range(200)} == set(range(6))
