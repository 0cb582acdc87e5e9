"""Kafka messages -> batches -> one transaction each, shared by the live sink and the replay.

Two threads overlap the work: the consumer's thread reads and decodes the next batch while an
apply thread writes the previous one (PostgreSQL works on the other core meanwhile). At most
one batch waits between them.

A failed batch (database error, offsets moved, registry or DLQ unreachable) is never skipped:
its transaction rolls back, every batch read after it is dropped unapplied (it would not pass
the offsets fence anyway), the consumer seeks every assigned partition back to its stored
offset, waits (exponential backoff unless the offsets merely moved) and reads it all again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from opdbus.config import Config
from opdbus.metrics import EVENTS_FAILED
from opdbus.sinks import metrics, offsets
from opdbus.sinks.batch import Assembler, Batch, Position
from opdbus.sinks.dead_letters import DeadLetterQueue, DeliveryError
from opdbus.sinks.decode import RegistryUnavailable, WireDecoder
from opdbus.sinks.offsets import OffsetsMoved
from opdbus.sinks.reader import BatchReader
from opdbus.sinks.rows import RowMapper
from opdbus.sinks.tables import topic_entities
from opdbus.sinks.writer import Writer, connect

STAGE = "sink"
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
OFFSETS_CHECK_S = 1.0
# What a retry can cure; anything else is a bug and stops the process (exit non-zero).
RETRYABLE: tuple[type[Exception], ...] = (
    psycopg.Error,
    OffsetsMoved,
    RegistryUnavailable,
    DeliveryError,
)

TopicPartitions = Iterable[tuple[str, int]]

log = logging.getLogger("opdbus.sink")


def _reason(error: Exception) -> str:
    if isinstance(error, OffsetsMoved):
        return "offsets_moved"
    if isinstance(error, RegistryUnavailable):
        return "registry"
    if isinstance(error, DeliveryError):
        return "dlq_delivery"
    return "db_error"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Pipeline:
    def __init__(
        self,
        config: Config,
        schema: str,
        group: str,
        topics: list[str],
        application: str,
        on_committed: Callable[[Batch], None] = lambda batch: None,
        dlq_headers: dict[str, str] | None = None,
    ) -> None:
        sink = config.section("sink")
        self.config = config
        self.group = group
        self.application = application
        entities = topic_entities(config, topics)
        self.writer = Writer(config, schema, group, set(entities.values()), application)
        decoder = WireDecoder(SchemaRegistryClient(config.registry_client_conf()))
        self.assembler = Assembler(
            decoder, {topic: RowMapper(self.writer.tables[e]) for topic, e in entities.items()}
        )
        self.batches = BatchReader(
            self.assembler, int(sink["batch_max_events"]), int(sink["batch_max_wait_ms"]) / 1000
        )
        self.dead_letters = DeadLetterQueue(config, dlq_headers)
        self.on_committed = on_committed
        self._reader: psycopg.Connection | None = None  # offsets reads, off the apply thread
        self._failures = 0
        self._checked = 0.0
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._busy = threading.Condition()
        self._in_flight = 0
        self._failed: tuple[Batch, Exception] | None = None
        self._fatal: BaseException | None = None
        self._thread = threading.Thread(target=self._apply_loop, name="sink-apply", daemon=True)
        self._thread.start()

    # --- reading (the consumer's thread) ------------------------------------------------------

    @property
    def positions(self) -> dict[tuple[str, int], Position]:
        return self.assembler.positions

    def load_positions(self, tps: TopicPartitions) -> dict[tuple[str, int], int | None]:
        """Read tps' stored offsets into the reading positions (and return them)."""
        if self._reader is None or self._reader.closed or self._reader.broken:
            self._reader = connect(self.config, self.application)
        stored = offsets.load(self._reader, self.group, tps)
        self.positions.update(stored)
        return stored

    def forget(self, tps: TopicPartitions) -> None:
        for tp in tps:
            self.positions.pop(tp, None)

    def rewind(self, consumer: Consumer, stop: threading.Event) -> None:
        """Seek every assigned partition to its stored offset (retrying while the database is
        unreachable: reading on from anywhere else would skip or repeat events)."""
        assigned = [(tp.topic, tp.partition) for tp in consumer.assignment()]
        attempt = 0
        while not stop.is_set():
            try:
                stored = self.load_positions(assigned)
                break
            except psycopg.Error as exc:
                attempt += 1
                delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2**attempt)
                log.warning("cannot read sink.offsets (%s); again in %.1fs", exc, delay)
                stop.wait(delay)
        else:
            return
        for (topic, partition), offset in stored.items():
            start = OFFSET_BEGINNING if offset is None else offset
            consumer.seek(TopicPartition(topic, partition, start))
        self.batches.discard()

    def check_offsets(self, consumer: Consumer, stop: threading.Event) -> None:
        """While idle, at most once per OFFSETS_CHECK_S: if someone moved the stored offsets
        (a replay's swap), read again from there now rather than at the next event."""
        if self.busy() or time.monotonic() - self._checked < OFFSETS_CHECK_S:
            return
        self._checked = time.monotonic()
        mine = {
            (tp.topic, tp.partition): self.positions.get((tp.topic, tp.partition))
            for tp in consumer.assignment()
        }
        if not mine:
            return
        try:
            if self._reader is None or self._reader.closed or self._reader.broken:
                self._reader = connect(self.config, self.application)
            problems = offsets.moved(offsets.read(self._reader, self.group, mine), mine)
        except psycopg.Error as exc:
            log.warning("cannot read sink.offsets (%s)", exc)
            return
        if problems and not self.busy():
            log.warning("offsets_moved while idle (%s); reading again from them", problems)
            self.rewind(consumer, stop)

    def recover(self, consumer: Consumer, stop: threading.Event) -> bool:
        """If a batch failed: count it, wait for the apply thread to drop what it holds, seek
        back to the stored offsets and back off. True if there was a failure to recover from."""
        if self._failed is None:
            return False
        self.drain()
        batch, error = self._failed
        reason = _reason(error)
        for topic in {topic for topic, _ in batch.next_offsets}:
            EVENTS_FAILED.labels(STAGE, topic, reason).inc(
                sum(n for (t, _), n in batch.outcomes.items() if t == topic)
            )
        self._failures += 1
        delay = 0.0
        if reason != "offsets_moved":
            delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self._failures - 1))
        log.warning(
            "batch of %d messages not applied (%s: %s); reading it again in %.1fs",
            batch.messages,
            reason,
            _first_line(error),
            delay,
        )
        self.rewind(consumer, stop)
        stop.wait(delay)
        self._failed = None
        return True

    # --- applying (the apply thread) ----------------------------------------------------------

    def submit(self, batch: Batch) -> None:
        """Hand a batch to the apply thread; blocks while another one is waiting."""
        self.raise_fatal()
        with self._busy:
            self._in_flight += 1
        self._queue.put(batch)

    def busy(self) -> bool:
        with self._busy:
            return self._in_flight > 0

    def drain(self) -> None:
        """Until the apply thread holds no batch."""
        with self._busy:
            self._busy.wait_for(lambda: self._in_flight == 0)
        self.raise_fatal()

    def raise_fatal(self) -> None:
        if self._fatal is not None:
            raise RuntimeError(f"sink apply thread failed: {self._fatal!r}") from self._fatal

    def _apply_loop(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            try:
                if self._failed is None:  # after a failure, what was read since is stale
                    self.commit(batch)
                    self.on_committed(batch)
            except RETRYABLE as error:
                self._failed = (batch, error)
            except BaseException as error:  # a bug: stop the process
                self._fatal = error
            finally:
                with self._busy:
                    self._in_flight -= 1
                    self._busy.notify_all()

    def commit(self, batch: Batch) -> None:
        started = time.monotonic()
        self.dead_letters.send(batch.dead_letters)
        applied = self.writer.apply(batch)
        committed_at = time.time()
        took = time.monotonic() - started
        metrics.BATCHES.inc()
        metrics.BATCH_SECONDS.observe(took)
        metrics.BATCH_EVENTS.observe(batch.messages)
        for (topic, outcome), count in batch.outcomes.items():
            metrics.EVENTS.labels(topic, outcome).inc(count)
        for table, result in applied.items():
            metrics.ROWS.labels(table, "insert").inc(result.inserted)
            metrics.ROWS.labels(table, "update").inc(result.updated)
            metrics.ROWS.labels(table, "delete").inc(result.deleted)
        for table, times in batch.source_times.items():
            metrics.SUPERSEDED.labels(table).inc(len(times) - applied[table].total)
            metrics.END_TO_END.observe_all(table, [committed_at - t for t in times])
        self._failures = 0
        log.debug("batch of %d messages committed in %.3fs", batch.messages, took)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)
        self.dead_letters.close()
        self.writer.close()
        if self._reader is not None:
            self._reader.close()
