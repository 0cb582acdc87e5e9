"""Integrated records: what each raw entity becomes on its integrated.* topic.

Lineage travels unchanged (the envelope's source and event_id), so the sink can order changes
by source position and apply each event once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from opdbus import rules, wire
from opdbus.envelope import Source, event_id
from opdbus.processors.enrich import ELEMENTS, attributes
from opdbus.processors.protect import Pseudonymizer

EVERY_ELEMENT = frozenset(ELEMENTS)  # the pseudonymised dimension carries all of them


def lineage(
    raw: dict[str, Any], protect: Pseudonymizer, secrets: Iterable[str]
) -> tuple[dict[str, Any], str]:
    """The source lineage and event id, with any NIK in them replaced by its pseudonym.

    A source position can hold a row key (a CDC snapshot reads `<point>:r:<key>`, and SIAK's
    key is the NIK). The event id derived from such a position would let anyone confirm a
    guessed NIK, so it is derived again from the protected position: still deterministic, so a
    re-delivery keeps its id, but useless without the pseudonym key."""
    source = raw["source"]
    leaked = [secret for secret in secrets if secret and secret in source["position"]]
    if not leaked:
        return source, raw["event_id"]
    position = source["position"]
    for secret in leaked:
        position = position.replace(secret, protect.pseudonym(secret))
    protected = {**source, "position": position}
    fields = {k: protected[k] for k in ("opd", "system", "database", "table", "position")}
    return protected, event_id(Source(**fields, ts_ms=0))


def envelope(
    raw: dict[str, Any],
    op: str,
    record: dict[str, Any],
    protect: Pseudonymizer,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """An integrated envelope: deletes carry the protected before-image, the rest `after`;
    secrets (the row's NIKs) never reach the lineage."""
    deleted = op == "d"
    source, protected_id = lineage(raw, protect, secrets)
    return {
        "op": op,
        "before": record if deleted else None,
        "after": None if deleted else record,
        "source": source,
        "ts_ms": int(time.time() * 1000),
        "event_id": protected_id,
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
    submitted = row.get("tanggal_pengajuan")
    on = wire.date_of_millis(submitted) if submitted is not None else dt.date.today()
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
        "tahun": wire.date_of_days(row["tanggal_sp2d"]).year,
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
    row: dict[str, Any], pseudonym: str, key_id: str, state: dict[str, Any]
) -> dict[str, Any]:
    on = wire.date_of_millis(row["updated_at"])
    attrs = attributes(state, on, EVERY_ELEMENT)
    return {
        "nik_pseudonim": pseudonym,
        "kunci_pseudonim": key_id,
        **attrs,
        "updated_at": row["updated_at"],
    }
