"""A Bappeda row to a target record, or the field and rule it breaks."""

from __future__ import annotations

from typing import Any

import pytest

from opdbus import schemas
from opdbus.config import ConfigError
from opdbus.connectors.file_drop.reader import Row
from opdbus.connectors.file_drop.validate import TargetRows, opd_is_configured
from opdbus.connectors.records import RecordError
from opdbus.rules import RuleViolation

TARGET = schemas.entity_versions("target")[-1]


def row(line: int = 2, **values: Any) -> Row:
    cells = {
        "tahun": "2025",
        "kode_opd": "dinkes",
        "kode_program": "1.02.02",
        "kode_indikator": "IKU-03",
        "nama_indikator": "Angka kematian bayi",
        "satuan": "per 1000 kelahiran hidup",
        "target": "12,5",
        "arah": "TURUN",
        **values,
    }
    return Row(line, cells)


@pytest.fixture
def rows() -> TargetRows:
    checked = TargetRows(TARGET, checks=(opd_is_configured,))
    checked.start_file()
    return checked


def test_the_id_is_derived_from_year_opd_and_indicator(rows: TargetRows) -> None:
    record = rows.record(row())
    assert record["id"] == "2025/dinkes/IKU-03"
    assert (record["tahun"], record["target"], record["arah"]) == (2025, 12.5, "TURUN")


def test_a_missing_part_of_the_id_is_reported_as_that_part(rows: TargetRows) -> None:
    with pytest.raises(RecordError) as caught:
        rows.record(row(tahun=None))
    assert (caught.value.field, caught.value.rule) == ("tahun", "is required")


def test_text_where_a_number_belongs_names_the_field(rows: TargetRows) -> None:
    with pytest.raises(RecordError) as caught:
        rows.record(row(target="85 %"))
    assert (caught.value.field, caught.value.rule) == ("target", "must be a number")


def test_an_opd_that_is_not_configured_is_rejected(rows: TargetRows) -> None:
    with pytest.raises(RuleViolation) as caught:
        rows.record(row(kode_opd="dinas_fiktif"))
    assert caught.value.field == "kode_opd"


def test_the_same_id_twice_in_one_file_is_rejected_but_not_across_files(
    rows: TargetRows,
) -> None:
    rows.record(row(line=2))
    with pytest.raises(RecordError, match="repeats the id of line 2"):
        rows.record(row(line=9, target="13"))
    rows.start_file()
    assert rows.record(row(line=9))["id"] == "2025/dinkes/IKU-03"


def test_cells_beyond_the_header_reject_the_row(rows: TargetRows) -> None:
    with pytest.raises(ValueError, match="1 more cell"):
        rows.record(Row(2, row().values, extra=["stray"]))


def test_missing_columns_are_found_from_the_schema(rows: TargetRows) -> None:
    assert rows.missing_columns(["tahun", "kode_opd", "kode_program", "kode_indikator"]) == [
        "nama_indikator",
        "satuan",
        "target",
        "arah",
    ]


def test_a_schema_without_the_id_parts_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="derives id"):
        TargetRows(schemas.entity_versions("realisasi")[-1])
