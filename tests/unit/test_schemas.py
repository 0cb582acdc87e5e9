"""The shipped schemas, and how opdbus.schemas loads and composes them."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest

from opdbus.schemas import (
    ENVELOPE_FILE,
    SCHEMAS_DIR,
    SchemaFileError,
    compose,
    current,
    entities,
    entity_versions,
    subject_versions,
)

# What OPD systems publish (namespace of the producing OPD) and what the processors publish
# on integrated.* (namespace "integrated").
RAW = ["anggaran", "kinerja", "penduduk", "permohonan", "realisasi", "riwayat_status", "target"]
INTEGRATED = ["capaian_kinerja", "keuangan", "penduduk_pseudonim", "perencanaan", "perizinan"]
SHIPPED = sorted(RAW + INTEGRATED)
NAMESPACE = "id.go.pontianak.opdbus"
UTC = UTC
WHEN = datetime(2025, 3, 14, 2, 30, 15, 123000, tzinfo=UTC)

# One realistic row per entity, as the `after` of an event.
SAMPLES: dict[str, dict[str, Any]] = {
    "penduduk": {
        "nik": "6171014107900001",
        "no_kk": "6171010101150007",
        "nama": "Siti Aminah",
        "tanggal_lahir": date(1990, 7, 1),
        "jenis_kelamin": "P",
        "kode_kelurahan": "61.71.01.1002",
        "status": "HIDUP",
        "updated_at": WHEN,
    },
    "permohonan": {
        "id_permohonan": 1201,
        "nomor_permohonan": "PBG-2025-000123",
        "jenis_izin": "PBG",
        "nik_pemohon": "6171010507850002",
        "kode_kelurahan": "61.71.01.1002",
        "status": "TERBIT",
        "tanggal_pengajuan": datetime(2025, 2, 3, 1, 0, tzinfo=UTC),
        "tanggal_keputusan": WHEN,
        "updated_at": WHEN,
        "kanal": "SIMBG",
    },
    "riwayat_status": {
        "id": 5001,
        "id_permohonan": 1201,
        "status": "KAJIAN_TEKNIS",
        "waktu": WHEN,
        "petugas": None,
        "catatan": "Menunggu rekomendasi TPA",
    },
    "anggaran": {
        "id": 77,
        "tahun": 2025,
        "kode_opd": "dinkes",
        "kode_program": "1.02.02",
        "kode_kegiatan": "1.02.02.2.01",
        "nama_kegiatan": "Penyediaan Layanan Kesehatan untuk UKM dan UKP Rujukan",
        "pagu": Decimal("1200000000.00"),
        "rencana_kas": [Decimal("100000000.00")] * 11 + [Decimal("99999999.99")],
        "updated_at": WHEN,
    },
    "realisasi": {
        "id": 9001,
        "nomor_sp2d": "0123/SP2D/LS/2025",
        "tanggal_sp2d": date(2025, 3, 14),
        "kode_opd": "dinkes",
        "kode_kegiatan": "1.02.02.2.01",
        "nilai": Decimal("45750000.50"),
        "uraian": "Belanja obat-obatan",
        "updated_at": WHEN,
    },
    "target": {
        "id": "2025/dinkes/IKU-03",
        "tahun": 2025,
        "kode_opd": "dinkes",
        "kode_program": "1.02.02",
        "kode_indikator": "IKU-03",
        "nama_indikator": "Angka kematian ibu",
        "satuan": "per 100.000 kelahiran hidup",
        "target": 85.0,
        "arah": "TURUN",
    },
    "perizinan": {
        "id_permohonan": 1201,
        "nomor_permohonan": "PBG-2025-000123",
        "jenis_izin": "PBG",
        "kode_kelurahan": "61.71.01.1002",
        "kode_kecamatan": "61.71.01",
        "status": "TERBIT",
        "tanggal_pengajuan": datetime(2025, 2, 3, 1, 0, tzinfo=UTC),
        "tanggal_keputusan": WHEN,
        "updated_at": WHEN,
        "kanal": None,
        "nik_pseudonim": "9f" * 32,
        "kunci_pseudonim": "k1",
        "pemohon": {
            "kelompok_umur": "35-39",
            "jenis_kelamin": "L",
            "kode_kecamatan": "61.71.02",
            "kode_kelurahan": "61.71.02.1003",
            "status": None,
        },
        "pencocokan": "COCOK",
        "menunggu_ms": 0,
    },
    "keuangan": {
        "jenis": "REALISASI",
        "id": 9001,
        "tahun": 2025,
        "kode_opd": "dinkes",
        "kode_program": None,
        "kode_kegiatan": "1.02.02.2.01",
        "nama_kegiatan": None,
        "nilai": Decimal("45750000.50"),
        "rencana_kas": None,
        "tanggal": date(2025, 3, 14),
        "nomor_sp2d": "0123/SP2D/LS/2025",
        "uraian": "Belanja obat-obatan",
        "updated_at": WHEN,
    },
    "penduduk_pseudonim": {
        "nik_pseudonim": "3a" * 32,
        "kunci_pseudonim": "k1",
        "kelompok_umur": "30-34",
        "jenis_kelamin": "P",
        "kode_kecamatan": "61.71.01",
        "kode_kelurahan": "61.71.01.1002",
        "status": "HIDUP",
        "updated_at": WHEN,
    },
    "kinerja": {
        "id": "esakip-2025-dinkes-IKU-03-TW1",
        "kode_opd": "dinkes",
        "kode_indikator": "IKU-03",
        "tahun": 2025,
        "jenis_periode": "TRIWULAN",
        "periode": 1,
        "realisasi": 90.5,
        "satuan": "per 100.000 kelahiran hidup",
        "dilaporkan_pada": WHEN,
    },
}
SAMPLES["perencanaan"] = SAMPLES["target"]
SAMPLES["capaian_kinerja"] = SAMPLES["kinerja"]


def record(name: str = "Benda", namespace: str = "test.opdbus", **extra: Any) -> dict[str, Any]:
    fields = extra.pop("fields", [{"name": "id", "type": "long", "doc": "key"}])
    return {"type": "record", "name": name, "namespace": namespace, "fields": fields, **extra}


def write_version(folder: Path, file_name: str, content: dict[str, Any] | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def walk(node: Any):
    """Every dict in a schema, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def test_entities_are_the_entity_folders_sorted() -> None:
    assert entities() == SHIPPED


def test_every_shipped_schema_parses_with_fastavro() -> None:
    for entity in SHIPPED:
        for entity_record, envelope in zip(
            entity_versions(entity), subject_versions(entity), strict=True
        ):
            assert fastavro.parse_schema(entity_record)["type"] == "record"
            assert fastavro.parse_schema(envelope)["name"].endswith("Envelope")


def test_every_record_enum_and_field_has_a_doc() -> None:
    for entity in SHIPPED:
        for envelope in subject_versions(entity):
            for node in walk(envelope):
                if node.get("type") in ("record", "enum"):
                    assert node.get("doc", "").strip(), f"{entity}: {node['name']} has no doc"
                for field in node.get("fields", []):
                    assert field.get("doc", "").strip(), f"{entity}: {field['name']} has no doc"


def test_every_entity_record_carries_satu_data_metadata() -> None:
    for entity in SHIPPED:
        for version, entity_record in enumerate(entity_versions(entity), start=1):
            metadata = entity_record["satudata"]
            where = f"{entity} v{version}"
            assert set(metadata) == {"produsen", "konsep", "satuan", "periode"}, where
            assert all(isinstance(v, str) and v.strip() for v in metadata.values()), where
            # The readable doc says the same as the machine-readable property.
            assert (
                f"Satu Data Indonesia: produsen {metadata['produsen']}; "
                f"konsep {metadata['konsep']}; satuan {metadata['satuan']}; "
                f"periode {metadata['periode']}."
            ) in entity_record["doc"], where
            stage = "integrated" if entity in INTEGRATED else metadata["produsen"]
            assert entity_record["namespace"] == f"{NAMESPACE}.{stage}", where


def test_composed_envelope_follows_the_debezium_shape_and_naming() -> None:
    envelope = current("permohonan")
    assert envelope["name"] == "PermohonanEnvelope"
    assert envelope["namespace"] == f"{NAMESPACE}.dpmptsp"
    assert [f["name"] for f in envelope["fields"]] == [
        "op",
        "before",
        "after",
        "source",
        "ts_ms",
        "event_id",
    ]
    fields = {f["name"]: f for f in envelope["fields"]}
    assert fields["op"]["type"]["symbols"] == ["c", "u", "d", "r"]
    # Defined once in `before`, referred to by full name in `after`.
    assert fields["before"]["type"][1]["name"] == "Permohonan"
    assert fields["after"]["type"] == ["null", f"{NAMESPACE}.dpmptsp.Permohonan"]
    assert fields["before"]["default"] is None and fields["after"]["default"] is None
    sources = [n for n in walk(envelope) if n.get("name") == "Source"]
    assert len(sources) == 1 and sources[0]["namespace"] == NAMESPACE
    source_fields = [f["name"] for f in sources[0]["fields"]]
    assert source_fields == [
        "opd",
        "system",
        "database",
        "table",
        "position",
        "tx_id",
        "ts_ms",
        "snapshot",
    ]


def test_current_is_the_newest_version() -> None:
    def entity_fields(envelope: dict[str, Any]) -> list[str]:
        return [f["name"] for f in envelope["fields"][1]["type"][1]["fields"]]

    history = subject_versions("permohonan")
    assert len(history) >= 2
    assert current("permohonan") == history[-1]
    assert "kanal" in entity_fields(current("permohonan"))
    assert "kanal" not in entity_fields(history[0])


@pytest.mark.parametrize("entity", SHIPPED)
def test_composed_envelope_round_trips_a_record_with_fastavro(entity: str) -> None:
    schema = fastavro.parse_schema(current(entity))
    event = {
        "op": "u",
        "before": None,
        "after": SAMPLES[entity],
        "source": {
            "opd": "dinkes",
            "system": "test",
            "database": "test",
            "table": entity,
            "position": "0/16B3748",
            "tx_id": "771",
            "ts_ms": WHEN,
            "snapshot": False,
        },
        "ts_ms": datetime(2025, 3, 14, 2, 30, 16, tzinfo=UTC),
        "event_id": f"test:{entity}:0/16B3748",
    }
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, event)
    buffer.seek(0)
    assert fastavro.schemaless_reader(buffer, schema, schema) == event


def test_every_entity_has_a_round_trip_sample() -> None:
    assert sorted(SAMPLES) == SHIPPED


def test_versions_load_in_numeric_order(tmp_path: Path) -> None:
    folder = tmp_path / "benda"
    for number in range(1, 12):
        write_version(folder, f"v{number}.avsc", record(doc=f"version {number}"))
    docs = [schema["doc"] for schema in entity_versions("benda", tmp_path)]
    # Lexical order would put v10 and v11 before v2.
    assert docs == [f"version {number}" for number in range(1, 12)]


def test_a_gap_in_versions_is_refused_naming_the_missing_file(tmp_path: Path) -> None:
    folder = tmp_path / "benda"
    write_version(folder, "v1.avsc", record())
    write_version(folder, "v3.avsc", record())
    with pytest.raises(SchemaFileError, match=r"benda/v2\.avsc: missing") as caught:
        entity_versions("benda", tmp_path)
    assert caught.value.path == folder / "v2.avsc"


@pytest.mark.parametrize("file_name", ["latest.avsc", "v01.avsc", "v2.json", "v0.avsc"])
def test_a_file_not_named_vN_is_refused_naming_it(tmp_path: Path, file_name: str) -> None:
    folder = tmp_path / "benda"
    write_version(folder, "v1.avsc", record())
    write_version(folder, file_name, record())
    with pytest.raises(SchemaFileError, match=rf"benda/{file_name}: not a schema version"):
        entity_versions("benda", tmp_path)


def test_an_empty_entity_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "benda").mkdir()
    with pytest.raises(SchemaFileError, match="no schema versions"):
        entity_versions("benda", tmp_path)


def test_an_unknown_entity_is_refused_naming_the_folder(tmp_path: Path) -> None:
    with pytest.raises(SchemaFileError, match=r"tidak_ada: no such entity folder"):
        entity_versions("tidak_ada", tmp_path)


def test_malformed_json_is_refused_naming_the_file_and_line(tmp_path: Path) -> None:
    write_version(tmp_path / "benda", "v1.avsc", '{\n  "type": "record",\n  "name": Benda\n}')
    with pytest.raises(SchemaFileError, match=r"benda/v1\.avsc: invalid JSON at line 3"):
        entity_versions("benda", tmp_path)


def test_invalid_avro_is_refused_naming_the_file_and_the_problem(tmp_path: Path) -> None:
    bad = record(fields=[{"name": "nama", "type": "strng"}])
    write_version(tmp_path / "benda", "v1.avsc", bad)
    with pytest.raises(SchemaFileError, match=r"benda/v1\.avsc: not valid Avro: .*strng"):
        entity_versions("benda", tmp_path)


def test_a_union_default_that_does_not_match_the_first_branch_is_refused(tmp_path: Path) -> None:
    # fastavro accepts this; Avro Java, and so the registry, does not.
    bad = record(fields=[{"name": "catatan", "type": ["string", "null"], "default": None}])
    write_version(tmp_path / "benda", "v1.avsc", bad)
    with pytest.raises(SchemaFileError, match=r"v1\.avsc: .*field 'catatan': a union's default"):
        entity_versions("benda", tmp_path)


def test_duplicate_field_names_are_refused(tmp_path: Path) -> None:
    bad = record(fields=[{"name": "id", "type": "long"}, {"name": "id", "type": "string"}])
    write_version(tmp_path / "benda", "v1.avsc", bad)
    with pytest.raises(SchemaFileError, match="two fields named 'id'"):
        entity_versions("benda", tmp_path)


def test_a_top_level_that_is_not_a_record_is_refused(tmp_path: Path) -> None:
    write_version(tmp_path / "benda", "v1.avsc", {"type": "enum", "name": "E", "symbols": ["A"]})
    with pytest.raises(SchemaFileError, match="top level must be an Avro record"):
        entity_versions("benda", tmp_path)


def test_a_record_without_namespace_is_refused(tmp_path: Path) -> None:
    unqualified = {"type": "record", "name": "Benda", "fields": [{"name": "id", "type": "long"}]}
    write_version(tmp_path / "benda", "v1.avsc", unqualified)
    with pytest.raises(SchemaFileError, match="needs a namespace"):
        entity_versions("benda", tmp_path)


def test_an_entity_that_clashes_with_the_envelope_is_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    shutil.copy(SCHEMAS_DIR / ENVELOPE_FILE, tmp_path)
    write_version(tmp_path / "benda", "v1.avsc", record(name="Source", namespace=NAMESPACE))
    entity_versions("benda", tmp_path)  # valid on its own
    with pytest.raises(SchemaFileError, match=r"benda/v1\.avsc: composed into the envelope"):
        subject_versions("benda", tmp_path)


def test_compose_refuses_a_template_without_the_placeholder(tmp_path: Path) -> None:
    template = json.loads((SCHEMAS_DIR / ENVELOPE_FILE).read_text())
    template["fields"] = [f for f in template["fields"] if f["name"] not in ("before", "after")]
    (tmp_path / ENVELOPE_FILE).write_text(json.dumps(template))
    with pytest.raises(SchemaFileError, match=r"envelope\.avsc: the template has no '__ENTITY__'"):
        compose(record(), tmp_path)


def test_a_badly_named_entity_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Benda-Baru").mkdir()
    with pytest.raises(SchemaFileError, match="Benda-Baru: entity folder names"):
        entities(tmp_path)
