"""Kafka clients with DESIGN.md's settings, and topic declaration.

Producer properties come from config (idempotent, acks=all, murmur2_random so that Java,
Kafka's Java clients and librdkafka put a key in the same partition). Keys are plain UTF-8 strings.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from opdbus.config import Config


def make_producer(config: Config, **overrides: Any) -> Producer:
    return Producer({**config.librdkafka("producer"), **overrides})


def produce(producer: Producer, topic: str, **message: Any) -> None:
    """producer.produce(topic, **message), waiting while librdkafka's local queue is full (its
    deliveries drain it) rather than failing with BufferError."""
    while True:
        try:
            producer.produce(topic, **message)
            return
        except BufferError:
            producer.poll(0.05)


def make_consumer(config: Config, group_id: str, **overrides: Any) -> Consumer:
    return Consumer({**config.librdkafka("consumer"), "group.id": group_id, **overrides})


def make_admin(config: Config) -> AdminClient:
    return AdminClient(config.librdkafka())


def topic_spec(name: str, partitions: int, compacted: bool = False) -> NewTopic:
    settings = {"cleanup.policy": "compact"} if compacted else {}
    return NewTopic(name, num_partitions=partitions, replication_factor=-1, config=settings)


def ensure_topics(
    admin: AdminClient, specs: Iterable[NewTopic], timeout_s: float = 30
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    created = []
    futures = admin.create_topics(list(specs), request_timeout=timeout_s)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def declared_topics(config: Config) -> list[NewTopic]:
    """Every topic in config `topics`, with the stack's partition count (equal counts keep
    joined topics co-partitioned)."""
    partitions = int(config.stack["kafka"]["num_partitions"])
    return [
        topic_spec(name, partitions, bool(spec.get("compacted")))
        for name, spec in config.topics.items()
    ]


def murmur2(key: bytes) -> int:
    """Kafka's murmur2 hash (seed 0x9747b28c) of key, as an unsigned 32-bit integer."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(key)
    h = (0x9747B28C ^ length) & mask
    whole = length - length % 4
    for k in struct.unpack_from(f"<{whole // 4}I", key):
        k = (k * m) & mask
        k = ((k ^ (k >> 24)) * m) & mask
        h = ((h * m) & mask) ^ k
    tail = length % 4
    if tail:
        if tail == 3:
            h ^= key[whole + 2] << 16
        if tail >= 2:
            h ^= key[whole + 1] << 8
        h = ((h ^ key[whole]) * m) & mask
    h = ((h ^ (h >> 13)) * m) & mask
    return h ^ (h >> 15)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (and librdkafka's murmur2_random) gives a
    non-empty key: murmur2 with the sign bit cleared, modulo the partition count. A worker
    knows from it, before sending, where a re-keyed event lands."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
