"""The envelope writer's bytes equal fastavro's, for every entity's envelope and random
events (both branches of every union, negative and large longs, empty and non-ASCII text)."""

from __future__ import annotations

import io
import random

import fastavro
import pytest
from fastavro.utils import generate_many

from opdbus import schemas
from opdbus.serde import Encoder, EnvelopeWriter, strip_logical

ENTITIES = schemas.entities()


def fastavro_bytes(parsed, event) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, event)
    return out.getvalue()


@pytest.mark.parametrize("entity", ENTITIES)
def test_envelope_writer_writes_fastavros_bytes(entity):
    parsed = fastavro.parse_schema(strip_logical(schemas.current(entity)))
    assert EnvelopeWriter.fits(parsed)
    encoder = Encoder("subject", 42, parsed)
    random.seed(entity)
    events = list(generate_many(parsed, 200))
    events[0]["source"]["position"] = "0/16B3C8A0:r:ĀŌ ñ"
    events[1]["source"]["ts_ms"] = -(2**62)
    for event in events:
        assert encoder.encode(event)[5:] == fastavro_bytes(parsed, event)


def test_timestamps_given_as_datetimes_go_to_fastavro_whole():
    parsed = fastavro.parse_schema(schemas.current("penduduk"))  # logical types kept
    encoder = Encoder("subject", 42, parsed)
    random.seed(1)
    [event] = generate_many(parsed, 1)
    assert encoder.encode(event)[5:] == fastavro_bytes(parsed, event)


def test_a_schema_that_is_not_the_envelope_is_not_taken_for_one():
    record = {"type": "record", "name": "X", "fields": [{"name": "op", "type": "string"}]}
    assert not EnvelopeWriter.fits(fastavro.parse_schema(record))
