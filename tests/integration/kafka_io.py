"""Small produce/consume helpers for tests, on the project's own client settings."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Message, TopicPartition

from opdbus.config import Config
from opdbus.kafka import make_consumer, make_producer


def produce(config: Config, topic: str, records: list[tuple[str, bytes | None]]) -> list[Message]:
    """Produce and wait for every acknowledgement; fail on any delivery error."""
    acked: list[Message] = []
    errors: list[object] = []
    producer = make_producer(config)
    for key, value in records:
        producer.produce(
            topic,
            key=key.encode(),
            value=value,
            on_delivery=lambda err, msg: errors.append(err) if err else acked.append(msg),
        )
    producer.flush(30)
    assert not errors, f"delivery failed: {errors}"
    assert len(acked) == len(records), f"{len(acked)} of {len(records)} acknowledged"
    return acked


def consume(config: Config, topic: str, count: int, timeout_s: float = 30) -> list[Message]:
    """Read count messages from the start of topic with a throwaway group."""
    consumer = make_consumer(config, group_id=f"test-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([topic])
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.append(msg)
    finally:
        consumer.close()
    assert len(got) == count, f"read {len(got)} of {count} messages from {topic}"
    return got


def topic_size(config: Config, topic: str) -> int:
    """How many messages were ever written to topic (its end offsets, summed)."""
    consumer = make_consumer(config, group_id=f"test-{uuid.uuid4().hex[:8]}")
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        )
    finally:
        consumer.close()
