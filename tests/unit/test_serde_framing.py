"""Confluent wire-format framing (pure logic; the registry side is in tests/integration)."""

from __future__ import annotations

import pytest

from opdbus.serde import WireFormatError, split_frame


def test_frame_yields_schema_id_and_body():
    schema_id, body = split_frame(b"\x00\x00\x00\x01\x2a" + b"avro")
    assert schema_id == 298
    assert bytes(body) == b"avro"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "tombstone"),
        (b"\x00\x00\x01", "3 bytes is shorter than the 5-byte wire-format header"),
        (b'{"nik": 1}', "first byte is 0x7b, not the wire format's magic 0x00"),
    ],
)
def test_bytes_outside_the_wire_format_are_refused_saying_why(data, message):
    with pytest.raises(WireFormatError, match=message):
        split_frame(data)
