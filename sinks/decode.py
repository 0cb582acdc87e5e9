"""Confluent-framed Avro -> the record's wire values (see sinks/wire.py), writer schema per id.

The core's AvroSerde, with writer schemas kept with their logical types stripped. A registry
that cannot be reached is not the message's fault: that error is raised as RegistryUnavailable
(the batch is retried), while an id the registry does not know or bytes that do not decode make
the message a dead letter.
"""

from __future__ import annotations

from confluent_kafka.schema_registry import SchemaRegistryClient

from opdbus.serde import AvroSerde, RegistryUnavailable, strip_logical

__all__ = ["RegistryUnavailable", "WireDecoder"]


class WireDecoder(AvroSerde):
    def __init__(self, registry: SchemaRegistryClient) -> None:
        super().__init__(registry, prepare=strip_logical)
