"""`opdbus replay`: rebuild the unified view from the retained topics and swap it in.

The rebuild is the live sink's own pipeline (same batches, merge, guard and fence) pointed at
a fresh schema `unified_replay_<time>`, built by the replayable migrations, under its own
consumer group `<sink group>.replay.<time>` in sink.offsets. It reads every partition from the
beginning up to the end offsets taken at start, then sinks/swap.py swaps it in. The live sink
may run throughout: see swap.py for how it is paused and how it resumes after the swap.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from psycopg import sql

from opdbus.config import Config
from opdbus.kafka import make_consumer
from opdbus.sinks import migrate, swap
from opdbus.sinks.batch import Message
from opdbus.sinks.pipeline import Pipeline
from opdbus.sinks.writer import connect

log = logging.getLogger("opdbus.replay")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Replayed:
    events: int
    seconds: float
    schema: str
    old_schema: str


def end_offsets(consumer: Consumer, topics: list[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """(low, high) watermark of every partition of topics, taken now."""
    found = {}
    metadata = consumer.list_topics(timeout=30)
    for topic in topics:
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            raise RuntimeError(f"topic {topic} is not readable: {described and described.error}")
        for partition in described.partitions:
            found[(topic, partition)] = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=30
            )
    return found


def build_schema(config: Config, schema: str) -> None:
    """The unified tables, as the applied migrations make them, in a new schema."""
    analyst = str(config.section("sink")["analyst_role"])
    with connect(config, "opdbus-replay") as conn, conn.transaction():
        for migration in migrate.replayable(conn):
            conn.execute(migration.render(conn, {"unified": schema, "analyst": analyst}))


def drop_schema(config: Config, schema: str, group: str) -> None:
    with connect(config, "opdbus-replay") as conn, conn.transaction():
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute("DELETE FROM sink.offsets WHERE consumer_group = %s", (group,))


class Rebuild:
    """Reads every partition up to its end offset into the rebuilt schema."""

    def __init__(self, config: Config, schema: str, group: str, topics: list[str]) -> None:
        self.pipeline = Pipeline(
            config,
            schema,
            group,
            topics,
            "opdbus-replay",
            dlq_headers={"opdbus.dlq.replay": schema},
        )
        self.consumer = make_consumer(config, group, **{"enable.auto.commit": False})
        self.ends = {tp: high for tp, (_, high) in end_offsets(self.consumer, topics).items()}
        stored = self.pipeline.load_positions(self.ends)
        self.starts = {
            tp: low if stored[tp] is None else stored[tp]
            for tp, (low, _) in self._watermarks().items()
        }
        self.total = sum(max(0, self.ends[tp] - self.starts[tp]) for tp in self.ends)
        self.finished: set[tuple[str, int]] = set()
        self.consumer.assign(
            [
                TopicPartition(t, p, OFFSET_BEGINNING if stored[(t, p)] is None else stored[(t, p)])
                for (t, p) in self.ends
            ]
        )
        self._reopen()

    def _reopen(self) -> None:
        """After (re)loading positions: partitions already at their end are finished."""
        self.finished.clear()
        self.consumer.resume([TopicPartition(*tp) for tp in self.ends])
        for tp, position in self.pipeline.positions.items():
            if (position if position is not None else self.starts[tp]) >= self.ends[tp]:
                self._finish(tp)

    def _watermarks(self) -> dict[tuple[str, int], tuple[int, int]]:
        return {
            tp: self.consumer.get_watermark_offsets(TopicPartition(*tp), timeout=30)
            for tp in self.ends
        }

    def _accept(self, message: Message) -> bool:
        tp = (message.topic(), message.partition())
        if message.offset() + 1 >= self.ends[tp]:
            self._finish(tp)
        return message.offset() < self.ends[tp]

    def _finish(self, tp: tuple[str, int]) -> None:
        if tp not in self.finished:
            self.finished.add(tp)
            self.consumer.pause([TopicPartition(*tp)])

    def _idle(self) -> None:
        """Nothing came: partitions whose position passed the end offset (a gap at the end)
        are done too."""
        waiting = [TopicPartition(*tp) for tp in self.ends if tp not in self.finished]
        for position in self.consumer.position(waiting) if waiting else []:
            if position.offset >= self.ends[(position.topic, position.partition)]:
                self._finish((position.topic, position.partition))

    def done(self) -> int:
        """Offsets read so far (events, tombstones and dead letters alike)."""
        reached = {tp: self.pipeline.positions.get(tp) for tp in self.starts}
        return sum(
            max(0, min(start if reached[tp] is None else reached[tp], self.ends[tp]) - start)
            for tp, start in self.starts.items()
        )

    def run(self, stop: threading.Event, progress: Progress) -> bool:
        """True when every batch up to every end offset is committed; False if stopped."""
        progress(0, self.total)
        while not stop.is_set():
            if self.pipeline.recover(self.consumer, stop):
                self._reopen()
                continue
            if len(self.finished) == len(self.ends):
                self.pipeline.drain()
                if self.pipeline.recover(self.consumer, stop):
                    self._reopen()
                    continue
                return True
            batch = self.pipeline.batches.collect(self.consumer, stop, self._accept)
            if batch.messages:
                self.pipeline.submit(batch)
                progress(self.done(), self.total)
            else:
                self._idle()
        self.pipeline.drain()
        return False

    def close(self) -> None:
        self.consumer.close()
        self.pipeline.close()


def replay(
    config: Config,
    stop: threading.Event,
    drop_old: bool = False,
    progress: Progress = lambda done, total: None,
    before_swap: Callable[[], None] | None = None,
) -> Replayed | None:
    """Rebuild and swap; None if stopped before the swap (the live view is then untouched)."""
    sink = config.section("sink")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    schema, old = f"unified_replay_{stamp}", f"unified_old_{stamp}"
    group = f"{sink['group_id']}.replay.{stamp}"
    started = time.monotonic()
    with connect(config, "opdbus-replay") as conn, conn.transaction():
        swap.preflight(conn, migrate.UNIFIED)  # what the swap would refuse after the rebuild
    build_schema(config, schema)
    rebuild = Rebuild(config, schema, group, list(sink["topics"]))
    try:
        complete = rebuild.run(stop, progress)
        events = rebuild.done()
    finally:
        rebuild.close()
    if not complete:
        drop_schema(config, schema, group)
        return None
    if before_swap is not None:
        before_swap()
    with connect(config, "opdbus-replay") as conn:
        try:
            swap.swap(
                conn,
                migrate.UNIFIED,
                schema,
                old,
                str(sink["group_id"]),
                group,
                rebuild.ends,
                drop_old,
            )
        except swap.SwapError as exc:
            raise swap.SwapError(
                f"{exc}; the rebuilt schema {schema} is kept for inspection "
                f"(DROP SCHEMA {schema} CASCADE when done)"
            ) from exc
    log.info("swapped %s in as %s", schema, migrate.UNIFIED)
    return Replayed(events, time.monotonic() - started, schema, old)
