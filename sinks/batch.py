"""A batch: the Kafka messages the sink applies in one transaction.

Rows are deduplicated as they arrive, keeping the newest per natural key by
(source_ts, source_position), the later message on a tie: applying only that row gives the same
result as applying every event in order under the merge's guard, and one INSERT ... ON CONFLICT
cannot touch a row twice anyway. Every message moves its partition's next offset, including
tombstones (skipped) and dead letters, so each is handled exactly once.

A batch also remembers where it started reading each partition (`starts`): the reading
position the consumer held before its first message. The batch may commit only if sink.offsets
still says exactly that (sinks/offsets.py), which chains the batches: none can commit on top of
a batch that did not.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from opdbus.sinks.decode import RegistryUnavailable, WireDecoder
from opdbus.sinks.rows import Row, RowMapper

TopicPartition = tuple[str, int]
# Where a batch started reading: a stored offset, None (nothing stored: from the beginning), or
# UNKNOWN (a partition the reader had no position for), which can never match sink.offsets.
Position = int | None
UNKNOWN = -1


class Message(Protocol):
    """What the sink reads of a confluent_kafka.Message."""

    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes]] | None: ...


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None
    error: Exception


@dataclass
class Batch:
    rows: dict[str, dict[tuple[Any, ...], Row]] = field(default_factory=dict)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    starts: dict[TopicPartition, Position] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # (topic, outcome) -> events; outcome: row, tombstone, dead_letter
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    # table -> source commit times (epoch seconds) of its events, for end-to-end latency
    source_times: dict[str, list[float]] = field(default_factory=dict)
    messages: int = 0
    opened: float = 0.0

    def __len__(self) -> int:
        return self.messages

    def put(self, mapper: RowMapper, row: Row) -> None:
        table = mapper.table.name
        rows = self.rows.setdefault(table, {})
        key = mapper.key(row)
        held = rows.get(key)
        ts, position = mapper.ts_index, mapper.position_index
        if held is None or (row[ts], row[position]) >= (held[ts], held[position]):
            rows[key] = row
        self.source_times.setdefault(table, []).append(row[ts] / 1000)  # epoch ms

    def moved(self, tp: TopicPartition, offset: int, positions: dict[TopicPartition, Position]):
        """Count a message and move its partition, in the batch and in the reader's positions."""
        if not self.messages:
            self.opened = time.monotonic()
        self.messages += 1
        if tp not in self.starts:
            self.starts[tp] = positions.get(tp, UNKNOWN)
        positions[tp] = self.next_offsets[tp] = offset + 1

    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


class Assembler:
    """Turns messages into batch rows: decode, map, deduplicate; bad messages become dead
    letters. Registry outages are not bad messages: those errors propagate (the batch is
    retried)."""

    def __init__(self, decoder: WireDecoder, mappers: dict[str, RowMapper]) -> None:
        self.decoder = decoder
        self.mappers = mappers
        # The next offset to read per assigned partition, as far as batches go: loaded from
        # sink.offsets on assignment and after a failure, moved by every message added.
        self.positions: dict[TopicPartition, Position] = {}

    def add(self, batch: Batch, message: Message) -> None:
        self.add_all(batch, [message])

    def add_all(self, batch: Batch, messages: list[Message]) -> None:
        """The hot loop of the sink (once per event): names looked up once per call."""
        positions, mappers, decode = self.positions, self.mappers, self.decoder.decode
        rows_of = {topic: 0 for topic in mappers}
        for message in messages:
            topic = message.topic()
            batch.moved((topic, message.partition()), message.offset(), positions)
            value = message.value()
            if value is None:  # a tombstone after a delete on a compacted topic
                batch.outcomes[(topic, "tombstone")] += 1
                continue
            mapper = mappers[topic]
            try:
                row = mapper.row(decode(value))
            except RegistryUnavailable:
                raise
            except Exception as error:  # whatever else fails is the message's fault
                batch.dead_letters.append(
                    DeadLetter(
                        topic,
                        message.partition(),
                        message.offset(),
                        message.key(),
                        value,
                        message.headers(),
                        error,
                    )
                )
                batch.outcomes[(topic, "dead_letter")] += 1
                continue
            batch.put(mapper, row)
            rows_of[topic] += 1
        for topic, count in rows_of.items():
            if count:
                batch.outcomes[(topic, "row")] += count
