"""Avro schema-resolution checks: the rules, the levels, and the shipped history."""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.read import SchemaResolutionError

from opdbus.compatibility import (
    Incompatibility,
    Level,
    Problem,
    check_all,
    check_versions,
    incompatibilities,
)
from opdbus.schemas import ENVELOPE_FILE, SCHEMAS_DIR


def record(*fields: dict[str, Any], name: str = "Benda") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "test.opdbus", "fields": list(fields)}


def field(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "Status", "symbols": list(symbols), **extra}


ID = field("id", "long")


def only(problems: list[Problem]) -> Incompatibility:
    assert len(problems) == 1, problems
    return problems[0].incompatibility


def test_identical_schemas_are_compatible_at_every_level() -> None:
    v1 = record(ID, field("nama", "string"), field("status", enum("A", "B")))
    for level in Level:
        assert check_versions([v1, copy.deepcopy(v1)], level) == []


def test_added_optional_field_is_backward_compatible() -> None:
    v1 = record(ID)
    v2 = record(ID, field("kanal", ["null", "string"], default=None))
    assert check_versions([v1, v2], Level.BACKWARD) == []
    assert check_versions([v1, v2], Level.FULL_TRANSITIVE) == []


def test_added_field_without_default_is_refused_naming_the_field() -> None:
    v1 = record(ID)
    v2 = record(ID, field("kanal", "string"))
    problems = check_versions([v1, v2], Level.BACKWARD)
    found = only(problems)
    assert found.path == "kanal"
    assert "field 'kanal' is in v2 but not in v1 and has no default" in found.message
    assert "data written with v1 has no value for it" in found.message
    assert (problems[0].reader_version, problems[0].writer_version) == (2, 1)
    assert str(problems[0]).startswith("v2 cannot read data written with v1: kanal: ")


def test_changed_type_is_refused_naming_the_field() -> None:
    v1 = record(ID, field("jenis_izin", "string"))
    v2 = record(ID, field("jenis_izin", "int"))
    found = only(check_versions([v1, v2], Level.BACKWARD))
    assert found.path == "jenis_izin"
    assert found.message.startswith("type changed from string in v1 to int in v2")


def test_removed_field_is_allowed_under_backward() -> None:
    # A reader skips writer fields it does not know (Avro specification, Confluent BACKWARD).
    v1 = record(ID, field("catatan", "string"))
    v2 = record(ID)
    assert check_versions([v1, v2], Level.BACKWARD) == []
    assert check_versions([v1, v2], Level.BACKWARD_TRANSITIVE) == []


@pytest.mark.parametrize(
    "level", [Level.FORWARD, Level.FORWARD_TRANSITIVE, Level.FULL, Level.FULL_TRANSITIVE]
)
def test_removed_field_without_default_is_refused_under_forward_and_full(level: Level) -> None:
    v1 = record(ID, field("catatan", "string"))
    v2 = record(ID)
    problems = check_versions([v1, v2], level)
    found = only(problems)
    assert (problems[0].reader_version, problems[0].writer_version) == (1, 2)
    assert found.path == "catatan"
    assert "field 'catatan' is in v1 but not in v2 and has no default" in found.message


def test_removed_field_with_default_is_allowed_under_full() -> None:
    v1 = record(ID, field("catatan", ["null", "string"], default=None))
    v2 = record(ID)
    assert check_versions([v1, v2], Level.FULL) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ],
)
def test_promotions_of_the_specification_are_backward_compatible(old: str, new: str) -> None:
    assert check_versions([record(field("x", old)), record(field("x", new))], "BACKWARD") == []


def test_int_to_long_promotion_is_compatible() -> None:
    v1 = record(field("jumlah", "int"))
    v2 = record(field("jumlah", "long"))
    assert check_versions([v1, v2], Level.BACKWARD) == []
    # The other way round, a long does not fit an int: FORWARD refuses it.
    found = only(check_versions([v1, v2], Level.FORWARD))
    assert found.path == "jumlah"
    assert "type changed from long in v2 to int in v1" in found.message


def test_transitive_checks_every_earlier_version() -> None:
    v1 = record(ID, field("x", "string"))
    v2 = record(ID)  # drops x: fine, v2 ignores it in v1 data
    v3 = record(ID, field("x", "int", default=0))  # x back with a default: fine for v2 data
    assert check_versions([v1, v2, v3], Level.BACKWARD) == []
    problems = check_versions([v1, v2, v3], Level.BACKWARD_TRANSITIVE)
    found = only(problems)
    assert (problems[0].reader_version, problems[0].writer_version) == (3, 1)
    assert found.path == "x"
    assert "type changed from string in v1 to int in v3" in found.message


def test_level_names_are_accepted_as_strings_in_any_case() -> None:
    v1 = record(ID)
    v2 = record(ID, field("x", "string"))
    assert check_versions([v1, v2], "backward_transitive") == check_versions(
        [v1, v2], Level.BACKWARD_TRANSITIVE
    )
    assert len(check_versions([v1, v2], "backward_transitive")) == 1


def test_level_none_accepts_any_change() -> None:
    assert check_versions([record(field("x", "string")), record(field("x", "int"))], "NONE") == []


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="SIDEWAYS"):
        check_versions([record(ID)], "SIDEWAYS")


def test_enum_symbol_added_is_backward_compatible() -> None:
    v1 = record(field("status", enum("DIAJUKAN", "TERBIT")))
    v2 = record(field("status", enum("DIAJUKAN", "TERBIT", "DICABUT")))
    assert check_versions([v1, v2], Level.BACKWARD) == []


def test_enum_symbol_added_is_refused_under_forward_naming_the_symbol() -> None:
    v1 = record(field("status", enum("DIAJUKAN", "TERBIT")))
    v2 = record(field("status", enum("DIAJUKAN", "TERBIT", "DICABUT")))
    found = only(check_versions([v1, v2], Level.FORWARD))
    assert found.path == "status"
    assert "v2 can write symbol(s) DICABUT that v1 does not have" in found.message
    assert "no enum default" in found.message


def test_enum_default_lets_an_older_reader_accept_new_symbols() -> None:
    v1 = record(field("status", enum("LAINNYA", "TERBIT", default="LAINNYA")))
    v2 = record(field("status", enum("LAINNYA", "TERBIT", "DICABUT", default="LAINNYA")))
    assert check_versions([v1, v2], Level.FULL) == []


def test_enum_symbol_removed_is_refused_under_backward() -> None:
    v1 = record(field("status", enum("HIDUP", "PINDAH", "MENINGGAL")))
    v2 = record(field("status", enum("HIDUP", "MENINGGAL")))
    found = only(check_versions([v1, v2], Level.BACKWARD))
    assert found.path == "status"
    assert "PINDAH" in found.message


def test_making_a_field_nullable_is_backward_compatible() -> None:
    v1 = record(field("petugas", "string"))
    v2 = record(field("petugas", ["null", "string"], default=None))
    assert check_versions([v1, v2], Level.BACKWARD) == []


def test_making_a_field_nullable_is_refused_under_forward_naming_null() -> None:
    v1 = record(field("petugas", "string"))
    v2 = record(field("petugas", ["null", "string"], default=None))
    found = only(check_versions([v1, v2], Level.FORWARD))
    assert found.path == "petugas"
    assert "type changed from null in v2 to string in v1" in found.message


def test_union_branch_removed_is_refused_naming_the_branch() -> None:
    v1 = record(field("nilai", ["null", "string", "int"], default=None))
    v2 = record(field("nilai", ["null", "string"], default=None))
    found = only(check_versions([v1, v2], Level.BACKWARD))
    assert found.path == "nilai"
    assert "type changed from int in v1 to union [null, string] in v2" in found.message
    assert "no branch of the union can read int" in found.message


def test_non_union_writer_must_match_some_reader_branch() -> None:
    v1 = record(field("nilai", "int"))
    refused = record(field("nilai", ["null", "string"], default=None))
    promoted = record(field("nilai", ["null", "long"], default=None))
    assert only(check_versions([v1, refused], Level.BACKWARD)).path == "nilai"
    assert check_versions([v1, promoted], Level.BACKWARD) == []


def test_record_in_a_union_is_named_in_the_path() -> None:
    def envelope(inner_type: str) -> dict[str, Any]:
        inner = record(field("tanggal_keputusan", inner_type), name="Permohonan")
        return record(
            field("before", ["null", inner], default=None),
            field("after", ["null", "test.opdbus.Permohonan"], default=None),
            name="PermohonanEnvelope",
        )

    problems = check_versions([envelope("string"), envelope("boolean")], Level.BACKWARD)
    # The entity appears in before and after; the problem is reported once.
    assert only(problems).path == "before.Permohonan.tanggal_keputusan"


def test_renamed_record_is_refused_unless_the_old_name_is_an_alias() -> None:
    v1 = record(field("inner", record(ID, name="Lama")))
    renamed = record(field("inner", record(ID, name="Baru")))
    aliased = copy.deepcopy(renamed)
    aliased["fields"][0]["type"]["aliases"] = ["Lama"]
    found = only(check_versions([v1, renamed], Level.BACKWARD))
    assert found.path == "inner"
    assert "record renamed from Lama in v1 to Baru in v2" in found.message
    assert check_versions([v1, aliased], Level.BACKWARD) == []


def test_namespace_change_alone_is_compatible() -> None:
    # The specification, fastavro and Avro Java match named types by unqualified name.
    v1 = record(ID)
    v2 = {**record(ID), "namespace": "test.lain"}
    assert check_versions([v1, v2], Level.FULL) == []


def test_renamed_field_is_compatible_through_an_alias() -> None:
    v1 = record(field("nama", "string"))
    renamed = record(field("nama_lengkap", "string"))
    aliased = record(field("nama_lengkap", "string", aliases=["nama"]))
    assert only(check_versions([v1, renamed], Level.BACKWARD)).path == "nama_lengkap"
    assert check_versions([v1, aliased], Level.BACKWARD) == []


def test_array_items_and_map_values_are_checked_with_their_path() -> None:
    v1 = record(
        field("rencana_kas", {"type": "array", "items": "long"}),
        field("label", {"type": "map", "values": "string"}),
    )
    v2 = record(
        field("rencana_kas", {"type": "array", "items": "int"}),
        field("label", {"type": "map", "values": "boolean"}),
    )
    problems = check_versions([v1, v2], Level.BACKWARD)
    assert [p.incompatibility.path for p in problems] == ["rencana_kas[]", "label{}"]


def test_fixed_size_change_is_refused() -> None:
    v1 = record(field("hash", {"type": "fixed", "name": "Hash", "size": 32}))
    v2 = record(field("hash", {"type": "fixed", "name": "Hash", "size": 16}))
    found = only(check_versions([v1, v2], Level.BACKWARD))
    assert "fixed Hash: size changed from 32 in v1 to 16 in v2" in found.message


def test_decimal_scale_change_is_refused() -> None:
    def rupiah(scale: int) -> dict[str, Any]:
        return {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": scale}

    found = only(
        check_versions(
            [record(field("pagu", rupiah(2))), record(field("pagu", rupiah(0)))], "BACKWARD"
        )
    )
    assert found.path == "pagu"
    assert "decimal(18,2) in v1 to decimal(18,0) in v2" in found.message


def test_adding_a_logical_type_follows_the_underlying_type() -> None:
    v1 = record(field("updated_at", "long"))
    v2 = record(field("updated_at", {"type": "long", "logicalType": "timestamp-millis"}))
    assert check_versions([v1, v2], Level.FULL) == []
    v3 = record(field("updated_at", {"type": "string", "logicalType": "uuid"}))
    assert only(check_versions([v2, v3], Level.BACKWARD)).path == "updated_at"


def test_recursive_record_is_checked_without_looping() -> None:
    def node(value_type: str) -> dict[str, Any]:
        return record(field("nilai", value_type), field("berikut", ["null", "Node"]), name="Node")

    assert check_versions([node("int"), node("long")], Level.BACKWARD) == []
    assert only(check_versions([node("int"), node("string")], Level.BACKWARD)).path == "nilai"


def test_an_unknown_type_reference_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="Tidak"):
        incompatibilities(record(field("x", "Tidak")), record(field("x", "int")))


def test_incompatibilities_without_labels_speak_of_reader_and_writer() -> None:
    (found,) = incompatibilities(record(field("x", "int")), record(field("x", "string")))
    assert found == Incompatibility(
        "x",
        "type changed from string in the writer's schema to int in the reader's schema: "
        "string cannot be read as int",
    )


# Each case: writer, reader, a datum written with the writer. The checker's verdict must agree
# with what fastavro, our decoder, actually does with the bytes.
RESOLUTION_CASES = {
    "added field without default": (record(ID), record(ID, field("x", "string")), {"id": 1}),
    "added field with default": (
        record(ID),
        record(ID, field("x", "string", default="")),
        {"id": 1},
    ),
    "removed field": (record(ID, field("x", "string")), record(ID), {"id": 1, "x": "a"}),
    "int to long": (record(field("x", "int")), record(field("x", "long")), {"x": 7}),
    "long to int": (record(field("x", "long")), record(field("x", "int")), {"x": 7}),
    "string to int": (record(field("x", "string")), record(field("x", "int")), {"x": "7"}),
    "nullable to required": (
        record(field("x", ["null", "string"])),
        record(field("x", "string")),
        {"x": None},
    ),
    "enum symbol removed": (
        record(field("s", enum("A", "B"))),
        record(field("s", enum("A"))),
        {"s": "B"},
    ),
    "enum symbol removed, reader default": (
        record(field("s", enum("A", "B"))),
        record(field("s", enum("A", default="A"))),
        {"s": "B"},
    ),
    "record renamed": (record(ID, name="Lama"), record(ID, name="Baru"), {"id": 1}),
    "record renamed with alias": (
        record(ID, name="Lama"),
        {**record(ID, name="Baru"), "aliases": ["Lama"]},
        {"id": 1},
    ),
}


@pytest.mark.parametrize("case", RESOLUTION_CASES)
def test_verdict_agrees_with_fastavro_resolution(case: str) -> None:
    writer, reader, datum = RESOLUTION_CASES[case]
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(writer), datum)
    buffer.seek(0)
    try:
        fastavro.schemaless_reader(
            buffer, fastavro.parse_schema(writer), fastavro.parse_schema(reader)
        )
        readable = True
    except SchemaResolutionError:
        readable = False
    assert (incompatibilities(reader, writer) == []) == readable


def test_shipped_schemas_are_backward_transitive_compatible() -> None:
    problems = check_all(Level.BACKWARD_TRANSITIVE)
    assert set(problems) >= {"penduduk", "permohonan", "anggaran"}
    assert {entity: [str(p) for p in found] for entity, found in problems.items() if found} == {}


def test_shipped_history_really_exercises_the_check(tmp_path: Path) -> None:
    # Same schemas, but permohonan v2's new field loses its default: the check must see it.
    shutil.copytree(SCHEMAS_DIR, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "permohonan" / "v2.avsc"
    schema = json.loads(path.read_text())
    kanal = next(f for f in schema["fields"] if f["name"] == "kanal")
    del kanal["default"]
    path.write_text(json.dumps(schema))
    problems = check_all(Level.BACKWARD_TRANSITIVE, tmp_path)
    assert only(problems["permohonan"]).path == "before.Permohonan.kanal"
    assert all(found == [] for entity, found in problems.items() if entity != "permohonan")


def test_check_all_reports_each_entity_on_its_composed_envelope(tmp_path: Path) -> None:
    shutil.copy(SCHEMAS_DIR / ENVELOPE_FILE, tmp_path)
    versions = {
        "baik": [
            record(ID, name="Baik"),
            record(ID, field("x", ["null", "int"], default=None), name="Baik"),
        ],
        "rusak": [record(ID, name="Rusak"), record(ID, field("x", "int"), name="Rusak")],
    }
    for entity, schemas in versions.items():
        (tmp_path / entity).mkdir()
        for number, schema in enumerate(schemas, start=1):
            (tmp_path / entity / f"v{number}.avsc").write_text(json.dumps(schema))
    problems = check_all("BACKWARD", tmp_path)
    assert set(problems) == {"baik", "rusak"}
    assert problems["baik"] == []
    assert str(problems["rusak"][0]) == (
        "v2 cannot read data written with v1: before.Rusak.x: field 'x' is in v2 but not in v1 "
        "and has no default: data written with v1 has no value for it"
    )
    assert len(problems["rusak"]) == 1
