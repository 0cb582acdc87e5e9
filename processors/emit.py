"""Everything a processor sends: integrated records, re-keyed events, changelog entries and
dead letters, through one idempotent producer.

Sends are not awaited one by one: the worker flushes once per batch and stores state and
offsets only if every send of the batch was acknowledged (`flush` raises otherwise), so a
failed send is read again after the restart instead of being skipped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from opdbus import schemas
from opdbus.config import Config
from opdbus.envelope import ts_millis
from opdbus.kafka import make_producer, produce
from opdbus.metrics import PROCESSED, PROCESSING_SECONDS
from opdbus.processors import dead_letters, outputs, protect
from opdbus.schema_cli import subject
from opdbus.serde import AvroSerde, Encoder, strip_logical


class SendFailed(RuntimeError):
    """The producer gave up on a message after its own retries."""


class Emitter:
    def __init__(self, config: Config) -> None:
        conf = config.section("processors")
        self.config = config
        # Wire values in and out: no datetime or Decimal is built for a field passed through.
        self.serde = AvroSerde(
            SchemaRegistryClient(config.registry_client_conf()), prepare=strip_logical
        )
        self.protect = protect.load(config)
        self.dlq = config.section("dead_letters")["processors"]
        self._failures: list[KafkaError] = []
        self.producer: Producer = make_producer(
            config,
            **{
                "linger.ms": int(conf["linger_ms"]),
                "batch.size": int(conf["max_batch_bytes"]),
                "on_delivery": self._delivered,
                "delivery.report.only.error": True,
            },
        )
        self._encoders: dict[str, Encoder] = {}
        # Counted per batch, added to the Prometheus metrics at each flush (a counter's
        # lock per event cost more than the lookup it counts).
        self._counts: Counter[tuple[str, str]] = Counter()
        self._source_ms: defaultdict[str, list[int]] = defaultdict(list)

    def _delivered(self, error: KafkaError | None, _msg: Message) -> None:
        if error is not None:
            self._failures.append(error)

    def entity(self, topic: str) -> str:
        return self.config.topics[topic]["schema"]

    def encoder(self, topic: str) -> Encoder:
        if topic not in self._encoders:
            self._encoders[topic] = self.serde.encoder(
                subject(topic), schemas.current(self.entity(topic))
            )
        return self._encoders[topic]

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int = -1,
    ) -> None:
        produce(self.producer, topic, value=value, key=key, partition=partition, headers=headers)

    def emit(
        self, topic: str, key: str, raw: dict[str, Any], record: dict, nik: str | None = None
    ) -> None:
        """An integrated record in the shared envelope, NIK replaced in its lineage."""
        protected = outputs.envelope(raw, raw["op"], record, self.protect, (nik,) if nik else ())
        self.send(topic, key.encode(), self.encoder(topic).encode(protected))
        self._source_ms[topic].append(ts_millis(raw["source"]["ts_ms"]))

    def dead_letter(self, msg: Message, error: Exception, stage: str) -> None:
        """The original bytes with the reason in Kafka Connect-style headers."""
        headers = dead_letters.headers(msg.topic(), msg.partition(), msg.offset(), stage, error)
        self.send(self.dlq, msg.key(), msg.value(), headers)
        dead_letters.count(stage, error)
        self.count(msg.topic(), "dead_letter")

    def count(self, topic: str, outcome: str) -> None:
        self._counts[(topic, outcome)] += 1

    def flush(self, timeout_s: float) -> None:
        """Wait for every send; raise if any was refused or is still not acknowledged."""
        left = self.producer.flush(timeout_s)
        for (topic, outcome), n in self._counts.items():
            PROCESSED.labels(topic, outcome).inc(n)
        self._counts.clear()
        sent, self._source_ms = self._source_ms, defaultdict(list)
        failures, self._failures = self._failures, []
        if failures or left:
            raise SendFailed(
                f"{len(failures)} sends failed ({failures[0] if failures else 'none'}), "
                f"{left} not acknowledged after {timeout_s:.0f}s"
            )
        for topic, source_ms in sent.items():
            PROCESSING_SECONDS.observe_since(topic, source_ms)
