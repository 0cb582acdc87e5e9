"""Kafka messages -> the next batch: how much to take, and how long to wait for it.

A batch closes at sink.batch_max_events messages or sink.batch_max_wait_ms after its first
message, whichever comes first. consumer.consume(n, timeout) returns early only once it holds
n messages (confluent-kafka 2.16; `benchmarks/consume_wait.py` shows it), so an empty batch
asks for one message and only then for the rest: asked for more, it would wait out the idle
wait before its own age began to count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError

from opdbus.sinks.batch import Assembler, Batch, Message

log = logging.getLogger("opdbus.sink")

IDLE_WAIT_S = 0.5  # an empty batch returns after this, so the caller may look around
CONSUME_MAX = 5000  # messages per consume() call


class BatchReader:
    def __init__(self, assembler: Assembler, max_events: int, max_wait_s: float) -> None:
        self.assembler = assembler
        self.max_events = max_events
        self.max_wait_s = max_wait_s
        self.batch = Batch()

    def collect(
        self,
        consumer: Consumer,
        stop: threading.Event,
        accept: Callable[[Message], bool] | None = None,
    ) -> Batch:
        """Messages until the batch is full or old enough, or stop; an empty batch when nothing
        came for IDLE_WAIT_S. self.batch is replaced under us by a revocation."""
        self.batch = Batch()
        while not stop.is_set():
            if self.batch.messages:
                room = self.max_events - len(self.batch)
                wait = self.batch.opened + self.max_wait_s - time.monotonic()
                if room <= 0 or wait <= 0:
                    break
                messages = consumer.consume(num_messages=min(room, CONSUME_MAX), timeout=wait)
            else:
                messages = consumer.consume(num_messages=1, timeout=IDLE_WAIT_S)
            good = []
            for message in messages:
                error = message.error()
                if error is None:
                    if accept is None or accept(message):
                        good.append(message)
                elif error.fatal():
                    raise RuntimeError(f"Kafka consumer failed: {error}")
                elif error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer: %s", error)
            self.assembler.add_all(self.batch, good)
            if not messages and not self.batch.messages:
                break
        return self.batch

    def discard(self) -> None:
        """Forget the batch being read (its partitions are being revoked)."""
        self.batch = Batch()
