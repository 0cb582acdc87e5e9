"""Integrated records: what each raw entity becomes on its integrated.* topic.

Lineage travels unchanged (the envelope's source and event_id), so the sink can order changes
by source position and apply each event once.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from opdbus import rules
from opdbus.processors.enrich import ELEMENTS, attributes
from opdbus.processors.protect import Pseudonymizer


def envelope(raw: dict[str, Any], op: str, record: dict[str, Any]) -> dict[str, Any]:
    """An integrated envelope: deletes carry the protected before-image, the rest `after`."""
    deleted = op == "d"
    return {
        "op": op,
        "before": record if deleted else None,
        "after": None if deleted else record,
        "source": raw["source"],
        "ts_ms": int(time.time() * 1000),
        "event_id": raw["event_id"],
    }


def row_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The row a change is about: after for c/u/r, before for d."""
    return raw["before"] if raw["op"] == "d" else raw["after"]


def perizinan(
    row: dict[str, Any],
    protect: Pseudonymizer,
    state: dict[str, Any] | None,
    allowed: frozenset[str],
    waited_ms: int,
) -> dict[str, Any]:
    on = row["tanggal_pengajuan"].date() if row.get("tanggal_pengajuan") else dt.date.today()
    record = {k: v for k, v in row.items() if k != "nik_pemohon"}
    record["kode_kecamatan"] = rules.kecamatan_of(row["kode_kelurahan"])
    record["nik_pseudonim"] = protect.pseudonym(row["nik_pemohon"])
    record["kunci_pseudonim"] = protect.key_id
    record["pemohon"] = attributes(state, on, allowed)
    record["pencocokan"] = "COCOK" if state is not None else "TIDAK_COCOK"
    record["menunggu_ms"] = waited_ms
    return record


def keuangan(entity: str, row: dict[str, Any]) -> dict[str, Any]:
    if entity == "anggaran":
        return {
            "jenis": "ANGGARAN",
            "id": row["id"],
            "tahun": row["tahun"],
            "kode_opd": row["kode_opd"],
            "kode_program": row["kode_program"],
            "kode_kegiatan": row["kode_kegiatan"],
            "nama_kegiatan": row["nama_kegiatan"],
            "nilai": row["pagu"],
            "rencana_kas": row["rencana_kas"],
            "tanggal": None,
            "nomor_sp2d": None,
            "uraian": None,
            "updated_at": row["updated_at"],
        }
    return {
        "jenis": "REALISASI",
        "id": row["id"],
        "tahun": row["tanggal_sp2d"].year,
        "kode_opd": row["kode_opd"],
        "kode_program": None,
        "kode_kegiatan": row["kode_kegiatan"],
        "nama_kegiatan": None,
        "nilai": row["nilai"],
        "rencana_kas": None,
        "tanggal": row["tanggal_sp2d"],
        "nomor_sp2d": row["nomor_sp2d"],
        "uraian": row["uraian"],
        "updated_at": row["updated_at"],
    }


def penduduk_pseudonim(
    row: dict[str, Any], protect: Pseudonymizer, state: dict[str, Any]
) -> dict[str, Any]:
    on = row["updated_at"].date()
    attrs = attributes(state, on, frozenset(ELEMENTS))
    return {
        "nik_pseudonim": protect.pseudonym(row["nik"]),
        "kunci_pseudonim": protect.key_id,
        **attrs,
        "updated_at": row["updated_at"],
    }
