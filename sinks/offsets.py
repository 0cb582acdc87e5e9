"""sink.offsets: where each partition resumes, written in the same transaction as the rows.

Every batch knows where it started reading each of its partitions (Batch.starts: the offset
stored when the reader loaded it, moved by the batches read since). Its transaction first locks
those partitions' rows and checks they hold exactly those starts; if not, someone else moved
them (another sink instance that owned the partition during a rebalance, `opdbus replay` after a
swap, a commit whose acknowledgement was lost, or an earlier batch of this sink that failed),
and the batch is refused before it changes anything: the sink rolls back, reloads the offsets
and reads again from there. So no batch is ever applied on top of offsets it did not start from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import psycopg

TopicPartition = tuple[str, int]

# Advisory lock key ("opdbus-sink"): each batch holds it shared, `opdbus replay` takes it
# exclusively to swap schemas while no batch is in flight.
SINK_LOCK = 0x6F7064627573_02


class OffsetsMoved(RuntimeError):
    """The stored offsets are not where this batch started reading."""


def _columns(tps: Iterable[TopicPartition]) -> tuple[list[str], list[int]]:
    pairs = list(tps)
    return [topic for topic, _ in pairs], [partition for _, partition in pairs]


def read(
    conn: psycopg.Connection, group: str, tps: Iterable[TopicPartition], lock: bool = False
) -> dict[TopicPartition, int]:
    topics, partitions = _columns(tps)
    rows = conn.execute(
        "SELECT o.topic, o.partition, o.next_offset FROM sink.offsets o "
        "JOIN unnest(%s::text[], %s::int[]) AS p(topic, partition) USING (topic, partition) "
        "WHERE o.consumer_group = %s" + (" FOR UPDATE OF o" if lock else ""),
        (topics, partitions, group),
    ).fetchall()
    return {(topic, partition): offset for topic, partition, offset in rows}


def load(
    conn: psycopg.Connection, group: str, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """The stored offset of every one of tps; None where nothing is stored yet."""
    wanted = list(tps)
    stored = read(conn, group, wanted)
    return {tp: stored.get(tp) for tp in wanted}


def write(conn: psycopg.Connection, group: str, next_offsets: Mapping[TopicPartition, int]) -> None:
    topics, partitions = _columns(next_offsets)
    conn.execute(
        "INSERT INTO sink.offsets (consumer_group, topic, partition, next_offset) "
        "SELECT %s, * FROM unnest(%s::text[], %s::int[], %s::bigint[]) "
        "ON CONFLICT (consumer_group, topic, partition) "
        "DO UPDATE SET next_offset = EXCLUDED.next_offset",
        (group, topics, partitions, list(next_offsets.values())),
    )


def moved(
    stored: Mapping[TopicPartition, int], starts: Mapping[TopicPartition, int | None]
) -> list[str]:
    """The partitions whose stored offset is not where the reader started."""
    return [
        f"{topic}[{partition}] stored {stored.get((topic, partition))}, read from {start}"
        for (topic, partition), start in starts.items()
        if stored.get((topic, partition)) != start
    ]


def claim(
    conn: psycopg.Connection, group: str, starts: Mapping[TopicPartition, int | None]
) -> None:
    """Inside the batch's transaction, before any row: lock the partitions' offsets and check
    they are where the batch started; raises OffsetsMoved otherwise."""
    problems = moved(read(conn, group, starts, lock=True), starts)
    if problems:
        raise OffsetsMoved("; ".join(problems))
    fresh = [tp for tp, start in starts.items() if start is None]
    if fresh:
        # A first row: insert it now, so that a concurrent first writer conflicts here.
        topics, partitions = _columns(fresh)
        inserted = conn.execute(
            "INSERT INTO sink.offsets (consumer_group, topic, partition, next_offset) "
            "SELECT %s, *, 0 FROM unnest(%s::text[], %s::int[]) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (group, topics, partitions),
        ).fetchall()
        if len(inserted) != len(fresh):
            raise OffsetsMoved(f"another writer stored a first offset of {fresh}")
