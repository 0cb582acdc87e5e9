"""Built records hold Avro wire values; written with logical types stripped they must give
exactly the bytes fastavro writes for the date, datetime or Decimal itself."""

from __future__ import annotations

import datetime as dt
import decimal
import io

import fastavro
import pytest

from opdbus.connectors.records import RecordBuilder
from opdbus.serde import strip_logical

RECORD = {
    "type": "record",
    "name": "Contoh",
    "fields": [
        {"name": "tanggal", "type": {"type": "int", "logicalType": "date"}},
        {"name": "waktu", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "mikro", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {
            "name": "nilai",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
        },
    ],
}
LOGICAL = fastavro.parse_schema(RECORD)
WIRE = fastavro.parse_schema(strip_logical(RECORD))
BUILDER = RecordBuilder(RECORD)


def written(schema, record) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()


@pytest.mark.parametrize(
    ("tanggal", "waktu", "nilai"),
    [
        ("2026-11-28", "2026-11-28 10:00:00.123456+07", "1250000.50"),
        ("1969-12-31", "1969-12-31 23:59:59.999+00", "-0.01"),
        ("1950-01-01", "1950-01-01T00:00:00.000999+00:00", "-128.00"),
        ("9999-12-31", "9999-12-31 23:59:59.999+00", "0"),
        ("1970-01-01", "1970-01-01 00:00:00+00", "9999999999999999.99"),
    ],
)
def test_wire_values_write_the_bytes_fastavro_writes_for_python_values(tanggal, waktu, nilai):
    row = {"tanggal": tanggal, "waktu": waktu, "mikro": waktu, "nilai": nilai}
    when = dt.datetime.fromisoformat(waktu)
    python = {
        "tanggal": dt.date.fromisoformat(tanggal),
        "waktu": when,
        "mikro": when,
        "nilai": decimal.Decimal(nilai).quantize(decimal.Decimal("0.01")),
    }
    assert written(WIRE, BUILDER.build(row)) == written(LOGICAL, python)


def test_far_timestamps_stay_exact():
    built = BUILDER.build(
        {"tanggal": "9999-12-31", "waktu": "9999-12-31 23:59:59.999+00", "mikro": "1970-01-01",
         "nilai": "1"}
    )  # fmt: skip
    assert built["waktu"] == 253402300799999
    assert built["tanggal"] == 2932896
