"""Re-keying relies on knowing where librdkafka's murmur2_random partitioner puts a key: our
partition_of must agree with what the broker reports for every key."""

from __future__ import annotations

from opdbus.kafka import make_producer, partition_of


def test_partition_of_agrees_with_librdkafka_for_every_nik(config, new_topic):
    topic = new_topic("test.partitioner", 6)
    keys = [f"6171{1 + i % 6:02d}{12 + (i % 2) * 40:02d}0390{i:04d}".encode() for i in range(600)]
    landed: dict[bytes, int] = {}
    producer = make_producer(config)
    for key in keys:
        producer.produce(
            topic,
            b"x",
            key,
            on_delivery=lambda err, msg: landed.__setitem__(msg.key(), msg.partition()),
        )
    assert producer.flush(30) == 0
    assert len(landed) == len(keys)
    assert {key: partition_of(key, 6) for key in keys} == landed
    assert set(landed.values()) == set(range(6))
