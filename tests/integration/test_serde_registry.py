"""Our wire format against the real Apicurio Registry and the real broker, both directions."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from opdbus import schemas
from opdbus.serde import AvroSerde, UnknownSchemaError, WireFormatError

from .kafka_io import consume, produce
from .samples import APICURIO_SERIALIZER_CONF, penduduk_event

PENDUDUK = schemas.current("penduduk")


def test_our_encoding_round_trips_through_kafka_with_the_registry(config, serde, new_topic):
    topic = new_topic("test.penduduk")
    event = penduduk_event()
    encoder = serde.encoder(f"{topic}-value", PENDUDUK, register=True)
    produce(config, topic, [(event["after"]["nik"], encoder.encode(event))])
    [msg] = consume(config, topic, 1)
    decoded = AvroSerde(serde.registry).decode(msg.value())  # a fresh cache: asks the registry
    assert msg.key() == b"6171015203900001"
    assert decoded["after"] == event["after"]
    assert decoded["event_id"] == event["event_id"]
    assert decoded["source"]["position"] == "0/16B3748"


def test_confluent_avro_deserializer_reads_what_we_write(config, serde, registry, new_topic):
    topic = new_topic("test.penduduk")
    event = penduduk_event()
    encoder = serde.encoder(f"{topic}-value", PENDUDUK, register=True)
    produce(config, topic, [(event["after"]["nik"], encoder.encode(event))])
    [msg] = consume(config, topic, 1)
    theirs = AvroDeserializer(registry)(
        msg.value(), SerializationContext(topic, MessageField.VALUE)
    )
    assert theirs["after"] == event["after"]
    assert theirs["op"] == "c"


def test_we_read_what_confluent_avro_serializer_writes(config, serde, registry, new_topic):
    topic = new_topic("test.penduduk")
    event = penduduk_event(position="0/16B9999")
    serializer = AvroSerializer(registry, json.dumps(PENDUDUK), conf=APICURIO_SERIALIZER_CONF)
    value = serializer(event, SerializationContext(topic, MessageField.VALUE))
    produce(config, topic, [(event["after"]["nik"], value)])
    [msg] = consume(config, topic, 1)
    ours = serde.decode(msg.value())
    assert ours["after"] == event["after"]
    assert ours["source"]["position"] == "0/16B9999"


def test_unknown_schema_id_raises_unknown_schema_error(serde):
    framed = b"\x00" + (2**31 - 7).to_bytes(4, "big") + b"\x02"
    with pytest.raises(UnknownSchemaError, match=f"schema id {2**31 - 7} is not in the registry"):
        serde.decode(framed)


def test_bytes_not_in_wire_format_raise_wire_format_error(config, serde, new_topic):
    topic = new_topic("test.raw")
    produce(config, topic, [("k", b'{"nik": "6171015203900001"}')])
    [msg] = consume(config, topic, 1)
    with pytest.raises(WireFormatError, match="first byte is 0x7b"):
        serde.decode(msg.value())


def test_a_body_that_does_not_match_its_schema_raises_wire_format_error(serde, new_topic):
    topic = new_topic("test.penduduk")
    encoder = serde.encoder(f"{topic}-value", PENDUDUK, register=True)
    truncated = encoder.encode(penduduk_event())[:12]
    with pytest.raises(WireFormatError, match=f"does not match schema id {encoder.schema_id}"):
        serde.decode(truncated)


class CountingRegistry(SchemaRegistryClient):
    """The real registry client, counting schema fetches by id."""

    fetches = 0

    def get_schema(self, schema_id, *args, **kwargs):
        CountingRegistry.fetches += 1
        return super().get_schema(schema_id, *args, **kwargs)


def test_decoder_asks_the_registry_once_per_schema_id(config, serde, new_topic):
    topic = new_topic("test.penduduk")
    encoder = serde.encoder(f"{topic}-value", PENDUDUK, register=True)
    values = [encoder.encode(penduduk_event(position=f"0/{i:X}")) for i in range(50)]
    counting = AvroSerde(CountingRegistry(config.registry_client_conf()))
    CountingRegistry.fetches = 0
    decoded = [counting.decode(value) for value in values]
    assert len(decoded) == 50
    assert CountingRegistry.fetches == 1


def test_registry_refuses_an_incompatible_schema_at_runtime(config, registry, new_topic):
    subject = f"{new_topic('test.kinerja')}-value"
    registry.set_compatibility(subject_name=subject, level="BACKWARD_TRANSITIVE")
    registry.register_schema(subject, Schema(json.dumps(schemas.current("kinerja")), "AVRO"))
    breaking = schemas.compose(
        {**schemas.entity_versions("kinerja")[-1]}
        | {
            "fields": [
                *schemas.entity_versions("kinerja")[-1]["fields"],
                {"name": "wajib_baru", "type": "string"},
            ]
        }  # added without a default
    )
    with pytest.raises(SchemaRegistryError) as refused:
        registry.register_schema(subject, Schema(json.dumps(breaking), "AVRO"))
    assert refused.value.http_status_code == 409


def test_identical_schemas_share_one_id_across_subjects(registry, new_topic):
    # Apicurio's ccompat ids are content ids: like Confluent, same schema text, same id.
    text = json.dumps(schemas.current("kinerja"))
    first = registry.register_schema(f"{new_topic('test.a')}-value", Schema(text, "AVRO"))
    second = registry.register_schema(f"{new_topic('test.b')}-value", Schema(text, "AVRO"))
    assert first == second
