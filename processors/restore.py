"""Reading partitions of a topic between offsets, outside the consumer group: how a worker
brings its partitions' state up to date before it processes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from opdbus.config import Config
from opdbus.kafka import make_consumer

WAIT_S = 0.2  # a batch returns early only when full: keep the wait at the end short


def read(
    config: Config, topic: str, ranges: Mapping[int, tuple[int, int | None]]
) -> Iterator[Message]:
    """Messages of topic with start <= offset < end, for each partition: (start, end) in ranges
    (end None: the high watermark now). One reader for all the partitions.

    Compaction leaves gaps and removes records below the log start, so a partition is done on
    reaching its end by position (or its end of log), not on seeing the offset end - 1."""
    consumer = make_consumer(
        config,
        f"{config.section('processors')['app_id']}-restore-{uuid.uuid4().hex[:8]}",
        **{"enable.auto.commit": False, "enable.partition.eof": True},
    )
    try:
        ends: dict[int, int] = {}
        starts: list[TopicPartition] = []
        for partition, (start, end) in ranges.items():
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 30)
            stop = high if end is None else min(end, high)
            if max(start, low) < stop:
                ends[partition] = stop
                starts.append(TopicPartition(topic, partition, max(start, low)))
        if not starts:
            return
        consumer.assign(starts)

        def done(partition: int) -> None:
            del ends[partition]
            consumer.pause([TopicPartition(topic, partition)])

        while ends:
            for msg in consumer.consume(5000, timeout=WAIT_S):
                partition = msg.partition()
                if partition not in ends:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(error)
                    done(partition)
                elif msg.offset() >= ends[partition]:
                    done(partition)
                else:
                    yield msg
                    if msg.offset() == ends[partition] - 1:
                        done(partition)
    finally:
        consumer.close()
