"""dlq.sink: messages the sink cannot turn into rows, original bytes untouched.

Headers follow the processors' (Kafka Connect's DLQ context under the opdbus.dlq. prefix), so
one tool reads every dead-letter topic. They are acknowledged by Kafka before the batch's
transaction commits the offsets past them: a crash in between parks them twice (the headers
name the original offset), never zero times. `opdbus replay` reads them again and parks them
again, marked with an opdbus.dlq.replay header naming the rebuilt schema.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, Message

from opdbus.config import Config
from opdbus.kafka import make_producer, produce
from opdbus.metrics import DEAD_LETTERS
from opdbus.sinks.batch import DeadLetter

STAGE = "sink"
DEFAULT_TOPIC = "dlq.sink"


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge every dead letter; the batch must not commit."""


def headers(letter: DeadLetter, extra: dict[str, str] | None = None) -> list[tuple[str, bytes]]:
    found = {
        "opdbus.dlq.stage": STAGE,
        "opdbus.dlq.topic": letter.topic,
        "opdbus.dlq.partition": str(letter.partition),
        "opdbus.dlq.offset": str(letter.offset),
        "opdbus.dlq.error.class": type(letter.error).__name__,
        "opdbus.dlq.error.message": str(letter.error)[:1000],
        **(extra or {}),
    }
    return [*(letter.headers or []), *((name, value.encode()) for name, value in found.items())]


class DeadLetterQueue:
    def __init__(self, config: Config, extra_headers: dict[str, str] | None = None) -> None:
        self.topic = (config.data.get("dead_letters") or {}).get("sink") or DEFAULT_TOPIC
        self.extra_headers = extra_headers
        self.producer = make_producer(config)

    def send(self, letters: list[DeadLetter], timeout_s: float = 30) -> None:
        if not letters:
            return
        errors: list[str] = []

        def done(err: KafkaError | None, _: Message) -> None:
            if err is not None:
                errors.append(err.str())

        for letter in letters:
            produce(
                self.producer,
                self.topic,
                key=letter.key,
                value=letter.value,
                headers=headers(letter, self.extra_headers),
                on_delivery=done,
            )
        if self.producer.flush(timeout_s) or errors:
            raise DeliveryError(f"dead letters not acknowledged by {self.topic}: {errors[:1]}")
        for letter in letters:
            DEAD_LETTERS.labels(STAGE, type(letter.error).__name__).inc()

    def close(self) -> None:
        self.producer.flush(10)
