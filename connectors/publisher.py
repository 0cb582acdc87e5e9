"""Publishing a source's changes: envelopes to their topics, bad rows to the dead-letter topic.

Connectors work in batches: publish a batch, then `commit()`, which waits for Kafka to
acknowledge every event of it, and only then move the source's cursor (slot, watermark, file
ledger, HTTP 202). A failed delivery raises, the cursor stays, and the batch is read again:
at-least-once, with the same event ids, so downstream stays idempotent.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from opdbus import schemas
from opdbus.config import Config, ConfigError
from opdbus.envelope import ts_millis
from opdbus.kafka import make_producer, produce
from opdbus.metrics import DEAD_LETTERS, EVENTS_FAILED, EVENTS_OUT, SOURCE_LAST_EVENT, SOURCE_TO_ACK
from opdbus.schema_cli import subject
from opdbus.serde import AvroSerde, Encoder, strip_logical

STAGE = "connector"


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge every event of a batch; the batch must be read again."""


@dataclass
class _Batch:
    """What one batch sent and which sends Kafka refused. Its `done` is the delivery callback
    of every message of the batch (called for failures only: the producer reports errors
    alone, so a batch's acknowledgement is a flush that leaves nothing behind); a late answer
    after a timed-out commit counts towards its own batch, never the next."""

    sent: Counter[str] = field(default_factory=Counter)  # by topic
    total: int = 0
    errors: list[str] = field(default_factory=list)
    source_ts_ms: list[int] = field(default_factory=list)

    def done(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err.str()}")
            EVENTS_FAILED.labels(STAGE, msg.topic(), "delivery").inc()


class Publisher:
    """One per connector process: a producer, the schema encoders, batch acknowledgement."""

    def __init__(self, config: Config, source: str) -> None:
        self.config = config
        self.source = source
        self.producer = make_producer(config, **{"delivery.report.only.error": True})
        # Records are wire values (connectors/records.py): written as they are.
        self.serde = AvroSerde(
            SchemaRegistryClient(config.registry_client_conf()), prepare=strip_logical
        )
        self.dlq_topic = config.section("dead_letters")["connectors"]
        self._encoders: dict[str, Encoder] = {}
        self._batch = _Batch()
        self._last_event = SOURCE_LAST_EVENT.labels(source)

    def entity(self, topic: str) -> str:
        spec = self.config.topics.get(topic)
        if not spec or not spec.get("schema"):
            raise ConfigError(f"topic {topic!r} is not declared with a schema in config topics")
        return spec["schema"]

    def encoder(self, topic: str, schema: dict[str, Any] | None = None) -> Encoder:
        """The topic's encoder, for its current schema in schemas/ unless one is given (CDC
        registers a widened schema when a source table gains a column)."""
        cached = self._encoders.get(topic)
        if cached is not None and schema is None:
            return cached
        wanted = schema or schemas.current(self.entity(topic))
        try:
            encoder = self.serde.encoder(subject(topic), wanted, register=schema is not None)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise ConfigError(
                    f"schema for {topic} is not registered at {self.config.registry_url}: "
                    "run `opdbus init`"
                ) from exc
            raise
        self._encoders[topic] = encoder
        return encoder

    def _produce(self, topic: str, key: str, value: bytes | None, headers=None, ts_ms=None) -> None:
        batch = self._batch
        produce(
            self.producer,
            topic,
            key=key.encode(),
            value=value,
            headers=headers,
            on_delivery=batch.done,
        )
        batch.sent[topic] += 1
        batch.total += 1
        if ts_ms is not None:
            batch.source_ts_ms.append(ts_ms)
        if batch.total % 256 == 0:  # serve delivery callbacks now and then, not per message
            self.producer.poll(0)

    def publish(self, topic: str, key: str, event: dict[str, Any]) -> None:
        encoded = self.encoder(topic).encode(event)
        self._produce(topic, key, encoded, ts_ms=ts_millis(event["source"]["ts_ms"]))

    def tombstone(self, topic: str, key: str) -> None:
        """After a delete on a compacted topic, so compaction forgets the key."""
        self._produce(topic, key, None)

    def dead_letter(
        self, key: str, payload: Any, error: Exception, context: dict[str, Any]
    ) -> None:
        """Park a row that cannot be published, with Kafka Connect-style reason headers.
        The value is the row as JSON, so nothing of it is lost."""
        reason = getattr(error, "rule", None) or type(error).__name__
        headers = {
            "opdbus.dlq.stage": STAGE,
            "opdbus.dlq.source": self.source,
            "opdbus.dlq.error.class": type(error).__name__,
            "opdbus.dlq.error.message": str(error),
            **{f"opdbus.dlq.context.{k}": str(v) for k, v in context.items()},
        }
        if getattr(error, "field", None):
            headers["opdbus.dlq.error.field"] = error.field  # type: ignore[attr-defined]
        body = json.dumps(payload, default=str, ensure_ascii=False).encode()
        self._produce(self.dlq_topic, key, body, headers=list(headers.items()))
        DEAD_LETTERS.labels(STAGE, _bounded(reason)).inc()

    def commit(self, timeout_s: float = 60) -> int:
        """Wait until Kafka acknowledged everything since the last commit; returns the count.
        Raises DeliveryError if anything failed: the caller must not move its cursor."""
        remaining = self.producer.flush(timeout_s)
        batch, self._batch = self._batch, _Batch()
        if remaining or batch.errors:
            raise DeliveryError(
                f"{remaining + len(batch.errors)} of {batch.total} events not acknowledged"
                + (f": {batch.errors[0]}" if batch.errors else f" within {timeout_s:.0f}s")
            )
        for topic, count in batch.sent.items():
            EVENTS_OUT.labels(STAGE, topic).inc(count)
        if batch.source_ts_ms:  # source commit to confirmed ack, as the cursor sees it
            SOURCE_TO_ACK.observe_since(self.source, batch.source_ts_ms)
            self._last_event.set(max(batch.source_ts_ms) / 1000)
        return batch.total

    def close(self) -> None:
        self.producer.flush(30)


def _bounded(reason: str) -> str:
    """Reasons are rules ("is required", "must be one of ...") or error classes: a bounded
    set, but cut the long ones so a label never carries data."""
    return reason.split(" (got", 1)[0][:60]
