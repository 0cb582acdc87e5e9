"""The live sink: a consumer group over sink.topics, applying batches until SIGTERM.

On assignment every partition is sought to sink.offsets (or the beginning): Kafka's committed
offsets are not the truth, they are committed after each batch only so that lag monitoring
(`opdbus lag`) sees the group. On revocation the batch in progress is dropped: nothing of it is
committed, and whoever gets the partition reads it again from sink.offsets.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from opdbus.config import Config
from opdbus.kafka import make_consumer
from opdbus.sinks.batch import Batch
from opdbus.sinks.migrate import UNIFIED
from opdbus.sinks.pipeline import BACKOFF_MAX_S, Pipeline

log = logging.getLogger("opdbus.sink")


class Sink:
    def __init__(self, config: Config, stop: threading.Event) -> None:
        sink = config.section("sink")
        self.stop = stop
        self.group = str(sink["group_id"])
        self.topics = list(sink["topics"])
        self.consumer: Consumer = make_consumer(
            config,
            self.group,
            **{"enable.auto.commit": False, "enable.auto.offset.store": False},
        )
        self._progress: dict[tuple[str, int], int] = {}
        self._progress_lock = threading.Lock()
        self.pipeline = Pipeline(
            config, UNIFIED, self.group, self.topics, "opdbus-sink", self._committed
        )

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        attempt = 0
        while True:  # the assignment cannot start anywhere but at the stored offsets
            try:
                stored = self.pipeline.load_positions(tps)
                break
            except psycopg.Error as exc:
                if self.stop.is_set():
                    stored = {tp: None for tp in tps}
                    consumer.pause(partitions)  # shutting down: read nothing
                    break
                attempt += 1
                delay = min(BACKOFF_MAX_S, 0.5 * 2**attempt)
                log.warning("cannot read sink.offsets (%s); again in %.1fs", exc, delay)
                self.stop.wait(delay)
        for partition in partitions:
            offset = stored[(partition.topic, partition.partition)]
            partition.offset = OFFSET_BEGINNING if offset is None else offset
        consumer.assign(partitions)
        log.info("assigned %s", ", ".join(f"{t}[{p}]@{stored[(t, p)]}" for t, p in tps))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Let the batch being applied finish, so the next owner starts from its offsets; the
        # one being read is dropped (its offsets were not stored).
        self.pipeline.batches.discard()
        self.pipeline.drain()
        self.pipeline.forget((p.topic, p.partition) for p in partitions)
        consumer.unassign()

    def _committed(self, batch: Batch) -> None:
        """On the apply thread: remember what to report (the client is not called from two
        threads at once)."""
        with self._progress_lock:
            self._progress.update(batch.next_offsets)

    def _report_progress(self) -> None:
        """Kafka's committed offsets for lag monitoring only; never read back."""
        with self._progress_lock:
            progress, self._progress = self._progress, {}
        if not progress:
            return
        try:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in progress.items()],
                asynchronous=True,
            )
        except KafkaException as exc:
            log.debug("lag report not committed: %s", exc)

    def run(self) -> None:
        self.consumer.subscribe(
            self.topics,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        try:
            while not self.stop.is_set():
                if self.pipeline.recover(self.consumer, self.stop):
                    continue
                batch = self.pipeline.batches.collect(self.consumer, self.stop)
                self._report_progress()
                if batch.messages:
                    self.pipeline.submit(batch)
                else:
                    self.pipeline.check_offsets(self.consumer, self.stop)
            self.pipeline.drain()
        finally:
            self.consumer.close()
            self.pipeline.close()
