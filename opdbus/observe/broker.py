"""Read offsets from the broker: committed offsets of consumer groups, partition ends, and the
newest message timestamp per partition. Admin requests only; nothing is consumed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from opdbus.config import Config

# (topic, partition): a plain tuple, easy to compare in tests.
TP = tuple[str, int]

log = logging.getLogger("opdbus.observe.broker")


def kafka_message(exc: KafkaException) -> str:
    """KafkaError's own text ("Failed to get metadata: ..."), not its repr."""
    error = exc.args[0] if exc.args else exc
    return error.str() if hasattr(error, "str") else str(error)


class BrokerUnreachable(RuntimeError):
    """The broker did not answer a metadata request in time."""


class Broker:
    def __init__(self, config: Config, timeout_s: float) -> None:
        props: dict[str, Any] = {
            **config.librdkafka(),
            # librdkafka's own lines (reconnect attempts) through logging, not raw stderr.
            "logger": logging.getLogger("opdbus.observe.librdkafka"),
        }
        self.admin = AdminClient(props)
        self.timeout_s = timeout_s

    def _wait(self, future: Future) -> Any:
        return future.result(timeout=self.timeout_s + 5)

    def topics(self) -> dict[str, int]:
        """topic -> partition count; raises BrokerUnreachable."""
        try:
            metadata = self.admin.list_topics(timeout=self.timeout_s)
        except KafkaException as exc:
            raise BrokerUnreachable(kafka_message(exc)) from exc
        return {name: len(t.partitions) for name, t in metadata.topics.items() if not t.error}

    def group_ids(self) -> list[str]:
        result = self._wait(self.admin.list_consumer_groups(request_timeout=self.timeout_s))
        return sorted(listing.group_id for listing in result.valid)

    def committed(self, groups: Iterable[str]) -> dict[str, dict[TP, int]]:
        """group -> {(topic, partition): committed offset}; partitions never committed are
        left out (they have no lag to speak of)."""
        # One group per request: that is what the admin API accepts.
        futures = {
            group: self.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=self.timeout_s
            )[group]
            for group in groups
        }
        out: dict[str, dict[TP, int]] = {}
        for group, future in futures.items():
            try:
                result = self._wait(future)
            except KafkaException as exc:  # a group deleted between listing and asking
                log.debug("offsets of group %s: %s", group, exc)
                continue
            out[group] = {
                (tp.topic, tp.partition): tp.offset
                for tp in result.topic_partitions
                if tp.offset >= 0 and tp.error is None
            }
        return out

    def _list_offsets(self, partitions: Iterable[TP], spec: OffsetSpec) -> dict[TP, Any]:
        request = {TopicPartition(topic, p): spec for topic, p in partitions}
        if not request:
            return {}
        out: dict[TP, Any] = {}
        futures = self.admin.list_offsets(request, request_timeout=self.timeout_s)
        for tp, future in futures.items():
            try:
                out[(tp.topic, tp.partition)] = self._wait(future)
            except KafkaException as exc:  # e.g. a topic deleted since the metadata call
                log.debug("offsets of %s[%d]: %s", tp.topic, tp.partition, exc)
        return out

    def end_offsets(self, partitions: Iterable[TP]) -> dict[TP, int]:
        """(topic, partition) -> high watermark (the offset the next message will get)."""
        found = self._list_offsets(partitions, OffsetSpec.latest())
        return {tp: info.offset for tp, info in found.items()}

    def newest_timestamps(self, partitions: Iterable[TP]) -> dict[TP, float]:
        """(topic, partition) -> timestamp (s) of its newest message; empty partitions left out.
        Kafka 3.0+ answers this from its time index (KIP-734), without reading a message."""
        found = self._list_offsets(partitions, OffsetSpec.max_timestamp())
        return {tp: info.timestamp / 1000 for tp, info in found.items() if info.timestamp >= 0}
