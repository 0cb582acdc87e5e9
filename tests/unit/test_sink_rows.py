"""Row mapping: one integrated event (as Avro wire values) -> one row of its unified table, in
column order, with what PostgreSQL needs to convert the logical types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from opdbus import schemas
from opdbus.sinks.rows import RowError, RowMapper
from opdbus.sinks.tables import LINEAGE, Table, layout, record_columns
from opdbus.sinks.wire import DATE, TIMESTAMP_MILLIS

WHEN = int(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC).timestamp() * 1000)  # epoch ms


def table(entity: str, key: tuple[str, ...]) -> Table:
    """The table as V001 makes it: the record's (flattened) fields, then the lineage."""
    columns = record_columns(schemas.entity_versions(entity)[-1])
    return layout(entity, (*columns, *LINEAGE), key)


def unscaled(value: Decimal, scale: int = 2) -> bytes:
    """A decimal as Avro writes it: the unscaled integer, big-endian two's complement."""
    number = int(value.scaleb(scale))
    return number.to_bytes((number.bit_length() + 8) // 8, "big", signed=True)


def envelope(op: str, record: dict, position: str = "0000000000000042") -> dict:
    return {
        "op": op,
        "before": record if op == "d" else None,
        "after": None if op == "d" else record,
        "source": {
            "opd": "dpmptsp",
            "system": "perizinan",
            "database": "perizinan",
            "table": "permohonan",
            "position": position,
            "tx_id": "771",
            "ts_ms": WHEN,
            "snapshot": False,
        },
        "ts_ms": WHEN + 2000,
        "event_id": "ev-1",
    }


PERIZINAN = {
    "id_permohonan": 12,
    "nomor_permohonan": "PBG-2026-000012",
    "jenis_izin": "PBG",
    "kode_kelurahan": "61.71.05.1001",
    "kode_kecamatan": "61.71.05",
    "status": "TERBIT",
    "tanggal_pengajuan": WHEN,
    "tanggal_keputusan": WHEN + 9 * 86_400_000,
    "updated_at": WHEN,
    "kanal": None,
    "nik_pseudonim": "ps-abc",
    "kunci_pseudonim": "k1",
    "pemohon": {
        "kelompok_umur": "30-34",
        "jenis_kelamin": "P",
        "kode_kecamatan": "61.71.02",
        "kode_kelurahan": None,
        "status": None,
    },
    "pencocokan": "COCOK",
    "menunggu_ms": 0,
}


def as_dict(mapper: RowMapper, row: tuple) -> dict:
    return dict(zip(mapper.table.columns, row, strict=True))


def test_nested_applicant_fields_are_flattened_with_their_record_prefix():
    mapper = RowMapper(table("perizinan", ("id_permohonan",)))
    row = as_dict(mapper, mapper.row(envelope("c", PERIZINAN)))
    assert row["pemohon_kelompok_umur"] == "30-34"
    assert row["pemohon_jenis_kelamin"] == "P"
    assert row["pemohon_kode_kelurahan"] is None
    assert "pemohon" not in row
    assert row["nik_pseudonim"] == "ps-abc"
    assert "nik_pemohon" not in row  # the raw NIK has no column at all


def test_every_row_carries_the_envelope_lineage():
    mapper = RowMapper(table("perizinan", ("id_permohonan",)))
    row = as_dict(mapper, mapper.row(envelope("u", PERIZINAN)))
    assert row["event_id"] == "ev-1"
    assert (row["source_opd"], row["source_system"], row["source_database"]) == (
        "dpmptsp",
        "perizinan",
        "perizinan",
    )
    assert row["source_table"] == "permohonan"
    assert row["source_position"] == "0000000000000042"
    assert row["source_tx_id"] == "771"
    assert row["source_ts"] == WHEN  # milliseconds, converted by the merge
    assert row["processed_at"] == WHEN + 2000
    assert row["dihapus"] is False


def test_a_delete_becomes_the_deleted_row_marked_dihapus():
    mapper = RowMapper(table("perizinan", ("id_permohonan",)))
    row = as_dict(mapper, mapper.row(envelope("d", PERIZINAN)))
    assert row["dihapus"] is True
    assert row["id_permohonan"] == 12
    assert row["status"] == "TERBIT"


KEUANGAN = {
    "jenis": "ANGGARAN",
    "id": 5,
    "tahun": 2026,
    "kode_opd": "dinkes",
    "kode_program": "1.02.02",
    "kode_kegiatan": "1.02.02.2.01",
    "nama_kegiatan": "Imunisasi",
    "nilai": unscaled(Decimal("1500000.25")),
    "rencana_kas": [unscaled(Decimal("-0.01")), unscaled(Decimal("125000.50"))],
    "tanggal": 20_513,  # days since 1970-01-01
    "nomor_sp2d": None,
    "uraian": None,
    "updated_at": WHEN,
}


def test_the_natural_key_is_read_in_key_order():
    mapper = RowMapper(table("keuangan", ("jenis", "id")))
    assert mapper.key(mapper.row(envelope("c", KEUANGAN))) == ("ANGGARAN", 5)


def test_decimals_travel_as_unscaled_integers_and_the_merge_rescales_them():
    keuangan = table("keuangan", ("jenis", "id"))
    mapper = RowMapper(keuangan)
    row = as_dict(mapper, mapper.row(envelope("c", KEUANGAN)))
    assert row["nilai"] == 150000025
    assert row["rencana_kas"] == [-1, 12500050]
    conversions = dict(zip(keuangan.columns, keuangan.conversions, strict=True))
    assert conversions["nilai"].expression.format('"nilai"') == '("nilai" * 1e-2)'
    assert conversions["nilai"].stage_type == "bigint"
    assert conversions["rencana_kas"].stage_type == "bigint[]"


def test_timestamps_and_dates_are_converted_by_postgresql():
    keuangan = table("keuangan", ("jenis", "id"))
    conversions = dict(zip(keuangan.columns, keuangan.conversions, strict=True))
    assert conversions["updated_at"] is TIMESTAMP_MILLIS
    assert conversions["source_ts"] is TIMESTAMP_MILLIS
    assert conversions["processed_at"] is TIMESTAMP_MILLIS
    assert conversions["tanggal"] is DATE
    assert conversions["kode_opd"].stage_type is None  # the table's own type


def test_a_field_an_older_writer_schema_lacks_becomes_null():
    mapper = RowMapper(table("perizinan", ("id_permohonan",)))
    older = {k: v for k, v in PERIZINAN.items() if k != "kanal"}
    assert as_dict(mapper, mapper.row(envelope("c", older)))["kanal"] is None


def test_an_event_without_its_row_or_key_is_refused():
    mapper = RowMapper(table("perizinan", ("id_permohonan",)))
    with pytest.raises(RowError, match="has no row"):
        mapper.row({**envelope("c", PERIZINAN), "after": None})
    with pytest.raises(RowError, match="key"):
        mapper.row(envelope("c", {**PERIZINAN, "id_permohonan": None}))
