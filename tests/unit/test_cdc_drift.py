"""Schema drift: PostgreSQL types to Avro, and a widened schema the registry will accept."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from opdbus import schemas
from opdbus.compatibility import check_versions
from opdbus.connectors.cdc import drift
from opdbus.connectors.records import RecordBuilder


@pytest.mark.parametrize(
    ("pg_type", "avro"),
    [
        ("integer", "int"),
        ("bigint", "long"),
        ("boolean", "boolean"),
        ("double precision", "double"),
        ("date", {"type": "int", "logicalType": "date"}),
        ("timestamp with time zone", {"type": "long", "logicalType": "timestamp-millis"}),
        ("timestamp(3) without time zone", {"type": "long", "logicalType": "timestamp-millis"}),
        (
            "numeric(18,2)",
            {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
        ),
        ("numeric", "string"),  # unbounded: no exact Avro decimal
        ("text", "string"),
        ("character varying(16)", "string"),
        ("uuid", "string"),
        ("jsonb", "string"),
        ("integer[]", {"type": "array", "items": "int"}),
    ],
)
def test_postgres_types_map_to_the_avro_type_that_keeps_the_value(pg_type, avro):
    assert drift.avro_type(pg_type) == avro


def test_widened_record_adds_optional_fields_with_null_defaults_at_the_end():
    record = schemas.entity_versions("penduduk")[-1]
    widened = drift.widen(record, {"email": "text", "skor": "numeric(5,2)"})
    added = widened["fields"][-2:]
    assert [f["name"] for f in added] == ["email", "skor"]
    assert all(f["type"][0] == "null" and f["default"] is None for f in added)
    assert widened["fields"][: len(record["fields"])] == record["fields"]
    assert len(record["fields"]) == 8  # the original is not touched


def test_widened_schema_is_backward_transitive_compatible_with_every_version():
    versions = schemas.subject_versions("permohonan")
    widened = drift.widen(schemas.entity_versions("permohonan")[-1], {"catatan": "text"})
    problems = check_versions([*versions, schemas.compose(widened)], "BACKWARD_TRANSITIVE")
    assert problems == []


def test_widened_record_builds_rows_with_and_without_the_new_column():
    builder = RecordBuilder(
        drift.widen(
            schemas.entity_versions("penduduk")[-1],
            {"lahir_jam": "timestamp with time zone", "skor": "numeric(5,2)"},
        )
    )
    row = {
        "nik": "6171015203900001",
        "no_kk": "6171010101200001",
        "nama": "Siti",
        "tanggal_lahir": "1990-03-12",
        "jenis_kelamin": "P",
        "kode_kelurahan": "61.71.01.1002",
        "status": "HIDUP",
        "updated_at": "2026-11-28 03:54:18.738723+00",
    }
    assert builder.build(row)["skor"] is None
    built = builder.build(
        {**row, "skor": decimal.Decimal("1.50"), "lahir_jam": "1990-03-12 06:00:00+07"}
    )
    assert built["skor"] == (150).to_bytes(2, "big", signed=True)  # 1.50, unscaled
    assert built["lahir_jam"] == dt.datetime(1990, 3, 11, 23, tzinfo=dt.UTC).timestamp() * 1000


def test_columns_already_in_the_record_are_not_added_twice():
    record = schemas.entity_versions("penduduk")[-1]
    assert drift.widen(record, {"nama": "text"}) == record


def test_only_avro_names_can_become_fields():
    assert drift.valid_field_name("email_2")
    assert not drift.valid_field_name("e-mail")
    assert not drift.valid_field_name("2nd")
