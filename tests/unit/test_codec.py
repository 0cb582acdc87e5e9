"""The compiled Avro reader and writer (opdbus.codec) agree with fastavro, byte for byte and
value for value, and refuse bytes or values that do not fit the schema."""

from __future__ import annotations

import io
import random

import fastavro
import pytest
from fastavro.utils import generate_many

from opdbus import codec, schemas
from opdbus.serde import Encoder, strip_logical

ENTITIES = schemas.entities()
EDGE_LONGS = [0, -1, 63, -64, 64, -65, 2**31, -(2**31) - 1, 2**62, codec.LONG_MAX, codec.LONG_MIN]

EVERY_FORM = {
    "type": "record",
    "name": "Forms",
    "namespace": "test",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "amount", "type": "double"},
        {"name": "blob", "type": "bytes"},
        {"name": "text", "type": "string"},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["R", "G"]}},
        {"name": "again", "type": "Colour"},
        {"name": "last", "type": ["string", "null"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "counts", "type": {"type": "map", "values": ["null", "long"]}},
        {"name": "nested", "type": {"type": "record", "name": "Inner", "fields": [
            {"name": "x", "type": {"type": "long"}}]}},
        {"name": "maybe", "type": ["null", "test.Inner"], "default": None},
    ],
}  # fmt: skip


def fastavro_bytes(parsed, value) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, value)
    return out.getvalue()


def fastavro_value(parsed, data: bytes):
    return fastavro.schemaless_reader(io.BytesIO(data), parsed, None)


def random_values(parsed, seed, count):
    random.seed(seed)
    return list(generate_many(parsed, count))


@pytest.mark.parametrize("entity", ENTITIES)
def test_every_entity_envelope_is_written_and_read_as_fastavro_does(entity):
    schema = strip_logical(schemas.current(entity))
    parsed = fastavro.parse_schema(schema)
    for compiled_from in (schema, parsed):  # raw JSON and fastavro's parsed form
        write, read = codec.writer(compiled_from), codec.reader(compiled_from)
        events = random_values(parsed, entity, 200)
        events[0]["source"]["position"] = "0/16B3C8A0:r:ĀŌ ñ"
        events[1]["source"]["ts_ms"] = codec.LONG_MIN
        events[2]["ts_ms"] = codec.LONG_MAX
        for event in events:
            data = fastavro_bytes(parsed, event)
            assert write(event, b"hdr") == b"hdr" + data
            assert read(b"hdr" + data, 3) == fastavro_value(parsed, data)


def test_every_form_the_codec_compiles_round_trips_as_fastavro_does():
    parsed = fastavro.parse_schema(EVERY_FORM)
    write, read = codec.writer(EVERY_FORM), codec.reader(EVERY_FORM)
    values = random_values(parsed, "forms", 300)
    for value, big in zip(values, EDGE_LONGS * 30, strict=False):
        value["big"] = big
        data = fastavro_bytes(parsed, value)
        assert write(value, b"") == data
        assert read(data, 0) == fastavro_value(parsed, data)


def test_a_missing_field_with_a_default_is_written_as_its_default():
    value = random_values(fastavro.parse_schema(EVERY_FORM), "default", 1)[0]
    del value["maybe"]
    assert codec.writer(EVERY_FORM)(value, b"") == fastavro_bytes(
        fastavro.parse_schema(EVERY_FORM), {**value, "maybe": None}
    )


@pytest.mark.parametrize(
    "schema",
    [
        ["null", "string", "long"],
        {"type": "long", "logicalType": "timestamp-millis"},
        {"type": "record", "name": "R", "fields": [{"name": "a", "type": "Unknown"}]},
    ],
    ids=["union-of-three", "logical-type", "unknown-name"],
)
def test_a_form_not_compiled_is_refused_at_compile_time(schema):
    with pytest.raises(codec.Unsupported):
        codec.writer(schema)
    with pytest.raises(codec.Unsupported):
        codec.reader(schema)


PENDUDUK = fastavro.parse_schema(strip_logical(schemas.current("penduduk")))


def a_penduduk_event() -> bytes:
    return fastavro_bytes(PENDUDUK, random_values(PENDUDUK, "bad", 1)[0])


@pytest.mark.parametrize(
    ("mangle", "error"),
    [
        (lambda data: data[:-3], (IndexError, codec.DecodeError)),
        (lambda data: data + b"\x00", codec.DecodeError),
        (lambda data: b"\x08" + data[1:], codec.DecodeError),  # op enum index 4 of 4 symbols
        (lambda data: data[:1] + b"\x04" + data[2:], codec.DecodeError),  # union branch 2
        (lambda data: data[:1] + b"\x00\x03" + data[1:], codec.DecodeError),  # negative length
        (lambda data: b"\x00" + b"\xff" * 11, codec.DecodeError),  # an 11-byte varint
    ],
    ids=["truncated", "trailing-byte", "enum-index", "union-branch", "negative-length", "varint"],
)
def test_bytes_that_do_not_follow_the_schema_are_refused(mangle, error):
    with pytest.raises(error):
        codec.reader(PENDUDUK)(mangle(a_penduduk_event()), 0)


def test_a_boolean_byte_other_than_0_or_1_is_refused():
    schema = {"type": "record", "name": "B", "fields": [{"name": "b", "type": "boolean"}]}
    with pytest.raises(codec.DecodeError, match="boolean byte 2"):
        codec.reader(schema)(b"\x02", 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("big", "12"), ("big", 2**63), ("text", 5), ("colour", "B"), ("flag", None), ("hash", b"ab")],
)
def test_a_value_that_does_not_fit_the_schema_is_refused(field, value):
    record = random_values(fastavro.parse_schema(EVERY_FORM), "refused", 1)[0]
    record[field] = value
    with pytest.raises((KeyError, TypeError, ValueError, AttributeError)):
        codec.writer(EVERY_FORM)(record, b"")


def test_the_encoder_leaves_to_fastavro_what_the_compiled_writer_refuses():
    parsed = fastavro.parse_schema(schemas.current("penduduk"))  # logical types kept
    encoder = Encoder("subject", 42, parsed)
    event = random_values(parsed, "datetimes", 1)[0]  # datetimes and dates, not wire values
    assert encoder.encode(event)[5:] == fastavro_bytes(parsed, event)
    event["after"] = {"nik": 5}
    with pytest.raises((ValueError, TypeError)):
        encoder.encode(event)
