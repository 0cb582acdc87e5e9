"""The hand-computed fixture behind test_monev.py and test_report.py (no tests of its own).

A throwaway database per test module, migrated like the real one, then a small set of unified
rows whose indicator values were worked out by hand: the arithmetic is in test_monev.py next to
each assertion. Rows that must NOT count (deleted, undecided) are marked as such here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from opdbus import config as config_module
from opdbus.config import Config
from opdbus.connectors.cdc.positions import snapshot_position
from opdbus.processors import outputs
from opdbus.processors.protect import Pseudonymizer
from opdbus.sinks import migrate, views

UTC = dt.UTC
D = Decimal

# Kecamatan codes (config/reference/wilayah_pontianak.csv).
SELATAN, TIMUR, BARAT, KOTA = "61.71.01", "61.71.02", "61.71.03", "61.71.05"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def pseudonym(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


# Licence applications: (id, jenis_izin, kecamatan, status, submitted (UTC), days to decision or
# None, pencocokan, dihapus).
PERMOHONAN: list[tuple[int, str, str, str, dt.datetime, float | None, str, bool]] = [
    # Pontianak Selatan, PBG (standard 30 days): decided in March (WIB) after 5..31 days...
    (1, "PBG", SELATAN, "TERBIT", at("2026-03-02T02:00"), 5, "COCOK", False),
    (2, "PBG", SELATAN, "TERBIT", at("2026-03-02T02:00"), 10, "COCOK", False),
    (3, "PBG", SELATAN, "TERBIT", at("2026-03-02T02:00"), 12.5, "COCOK", False),
    (4, "PBG", SELATAN, "TERBIT", at("2026-03-02T02:00"), 20, "COCOK", False),
    (5, "PBG", SELATAN, "TERBIT", at("2026-02-20T02:00"), 30, "COCOK", False),  # on the line
    (6, "PBG", SELATAN, "TERBIT", at("2026-02-20T02:00"), 31, "COCOK", False),
    # ...and one refused after 40 days: 2026-03-31T18:00Z is 1 April 01:00 WIB, an April decision.
    (7, "PBG", SELATAN, "DITOLAK", at("2026-02-19T18:00"), 40, "TIDAK_COCOK", False),
    # Still under review: no decision, counts for coverage only.
    (8, "PBG", SELATAN, "KAJIAN_TEKNIS", at("2026-03-25T02:00"), None, "COCOK", False),
    # Deleted at the source: counts nowhere.
    (9, "PBG", SELATAN, "TERBIT", at("2026-03-03T02:00"), 1, "COCOK", True),
    # Pontianak Timur, PBG, both decided in April.
    (10, "PBG", TIMUR, "TERBIT", at("2026-04-01T02:00"), 10, "COCOK", False),
    # Submitted 2026-02-28T20:00Z = 1 March 03:00 WIB: a March submission.
    (11, "PBG", TIMUR, "TERBIT", at("2026-02-28T20:00"), 40, "TIDAK_COCOK", False),
    # Pontianak Barat, NIB (standard 1 day), decided in March.
    (12, "NIB", BARAT, "TERBIT", at("2026-03-09T01:00"), 0.5, "COCOK", False),
    (13, "NIB", BARAT, "TERBIT", at("2026-03-09T01:00"), 2, "COCOK", False),
    # A licence type without a configured standard.
    (14, "REKLAME", KOTA, "TERBIT", at("2026-03-16T01:00"), 3, "TIDAK_COCOK", False),
]

# BKAD: (jenis, id, tahun, kode_opd, nilai, rencana_kas, tanggal, dihapus).
MILLION = D(1_000_000)
QUARTERLY_100M = [D(0), D(0), 100 * MILLION] * 4  # 100 M in March, June, September, December
KEUANGAN: list[tuple[str, int, int, str, Decimal, list[Decimal] | None, dt.date | None, bool]] = [
    # dinkes 2026: pagu 600 M planned 50 M a month + 400 M planned 100 M each quarter's end.
    ("ANGGARAN", 1, 2026, "dinkes", 600 * MILLION, [50 * MILLION] * 12, None, False),
    ("ANGGARAN", 2, 2026, "dinkes", 400 * MILLION, QUARTERLY_100M, None, False),
    ("REALISASI", 1, 2026, "dinkes", 30 * MILLION, None, dt.date(2026, 1, 15), False),
    ("REALISASI", 2, 2026, "dinkes", 20 * MILLION, None, dt.date(2026, 1, 31), False),
    ("REALISASI", 3, 2026, "dinkes", 200 * MILLION, None, dt.date(2026, 3, 10), False),
    ("REALISASI", 4, 2026, "dinkes", 5 * MILLION, None, dt.date(2026, 3, 20), True),  # deleted
    ("REALISASI", 5, 2026, "dinkes", 125 * MILLION, None, dt.date(2026, 4, 1), False),
    # dinkes 2025: a payment without any budget row.
    ("REALISASI", 6, 2025, "dinkes", 10 * MILLION, None, dt.date(2025, 12, 30), False),
    # disdukcapil 2026: pagu 240 M planned 20 M a month; 60 M paid in February.
    ("ANGGARAN", 3, 2026, "disdukcapil", 240 * MILLION, [20 * MILLION] * 12, None, False),
    ("REALISASI", 7, 2026, "disdukcapil", 60 * MILLION, None, dt.date(2026, 2, 10), False),
]

# Bappeda targets for 2026: (kode_opd, kode_indikator, nama, satuan, target, arah).
TARGET: list[tuple[str, str, str, str, float, str]] = [
    ("dinkes", "IKU-01", "Persentase balita gizi baik", "persen", 80, "NAIK"),
    ("dinkes", "IKU-02", "Angka kematian ibu per 100.000 KH", "per 100.000 KH", 100, "TURUN"),
    ("dinkes", "IKU-03", "Kasus DBD", "kasus", 20, "TURUN"),
    ("dpmptsp", "IKU-01", "Persentase izin terbit tepat waktu", "persen", 90, "NAIK"),
    ("dpmptsp", "IKU-02", "Jumlah investor baru", "investor", 200, "NAIK"),
    ("disdukcapil", "IKU-01", "Waktu penerbitan KTP-el", "hari", 10, "TURUN"),
    ("disdukcapil", "IKU-02", "Cakupan akta kelahiran", "persen", 100, "NAIK"),
]

# e-SAKIP realisations for 2026: (id, kode_opd, kode_indikator, jenis_periode, periode,
# realisasi, reported (UTC), dihapus).
KINERJA: list[tuple[str, str, str, str, int, float, dt.datetime, bool]] = [
    ("k1", "dinkes", "IKU-01", "TRIWULAN", 1, 60, at("2026-04-05T03:00"), False),
    ("k2", "dinkes", "IKU-01", "TRIWULAN", 2, 68, at("2026-07-05T03:00"), False),  # latest
    ("k3", "dinkes", "IKU-02", "BULAN", 5, 120, at("2026-06-03T03:00"), False),
    ("k4", "dinkes", "IKU-02", "BULAN", 6, 85, at("2026-07-10T03:00"), False),
    # Ends in June like BULAN 6 but covers more: the quarter wins though reported earlier.
    ("k5", "dinkes", "IKU-02", "TRIWULAN", 2, 90, at("2026-07-04T03:00"), False),
    ("k6", "dinkes", "IKU-03", "BULAN", 6, 50, at("2026-07-04T03:00"), False),
    ("k7", "dpmptsp", "IKU-01", "BULAN", 3, 45, at("2026-04-02T03:00"), False),
    ("k8", "dpmptsp", "IKU-02", "SEMESTER", 1, 150, at("2026-07-02T03:00"), False),
    ("k9", "disdukcapil", "IKU-01", "SEMESTER", 1, 17, at("2026-07-03T03:00"), False),
    ("k10", "disdukcapil", "IKU-02", "BULAN", 4, 95, at("2026-05-03T03:00"), True),  # deleted
    # A realisation with no target.
    ("k11", "dinkes", "IKU-09", "BULAN", 1, 5, at("2026-02-02T03:00"), False),
]

# Population: three citizens (women born 12 March 1990 in Pontianak Selatan) under pseudonyms.
NIK = [f"61710152039000{n:02d}" for n in range(1, 4)]
PENDUDUK = [pseudonym(f"warga-{n}") for n in range(3)]
SNAPSHOT_POINT = "0/16B3C8A0"  # the slot's LSN when the CDC snapshot began


@dataclass(frozen=True)
class Freshness:
    """How long before the fixture's `now` the newest event of each source was committed."""

    now: dt.datetime
    # (source_opd, source_system) -> age of its newest event
    ages: dict[tuple[str, str], dt.timedelta]

    def newest(self, source: tuple[str, str]) -> dt.datetime:
        return self.now - self.ages[source]


AGES = {
    ("dpmptsp", "perizinan"): dt.timedelta(hours=1),  # the deleted row 9 (a delete is news)
    ("bkad", "keuangan"): dt.timedelta(days=1),
    ("bappeda", "perencanaan"): dt.timedelta(days=30),
    ("dinkes", "esakip"): dt.timedelta(hours=6),
    ("dpmptsp", "esakip"): dt.timedelta(days=2),
    ("disdukcapil", "esakip"): dt.timedelta(days=3),
    ("disdukcapil", "siak"): dt.timedelta(minutes=5),
}


def lineage(
    source: tuple[str, str], table: str, ts: dt.datetime, n: int, dihapus: bool = False
) -> dict[str, Any]:
    opd, system = source
    return {
        "event_id": str(uuid.uuid4()),
        "source_opd": opd,
        "source_system": system,
        "source_database": system,
        "source_table": table,
        "source_position": f"{table}@{n:06d}",
        "source_tx_id": str(n),
        "source_ts": ts,
        "processed_at": ts + dt.timedelta(seconds=1),
        "ingested_at": ts + dt.timedelta(seconds=2),
        "dihapus": dihapus,
    }


def insert(conn: psycopg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    query = sql.SQL("INSERT INTO unified.{} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    with conn.cursor() as cur:
        cur.executemany(query, [[row[c] for c in columns] for row in rows])


def perizinan_rows(fresh: Freshness) -> list[dict[str, Any]]:
    source = ("dpmptsp", "perizinan")
    rows = []
    for n, jenis, kec, status, submitted, days, cocok, dihapus in PERMOHONAN:
        decided = None if days is None else submitted + dt.timedelta(days=days)
        # Row 9 (deleted) is the source's newest event; the others are older.
        ts = fresh.newest(source) - dt.timedelta(hours=0 if n == 9 else n)
        rows.append(
            {
                "id_permohonan": n,
                "nomor_permohonan": f"PBG/{n:04d}",
                "jenis_izin": jenis,
                "kode_kelurahan": f"{kec}.1002",
                "kode_kecamatan": kec,
                "status": status,
                "tanggal_pengajuan": submitted,
                "tanggal_keputusan": decided,
                "updated_at": decided or submitted,
                "kanal": "OSS",
                "nik_pseudonim": pseudonym(f"pemohon-{n}"),
                "kunci_pseudonim": "k1",
                "pemohon_kelompok_umur": "30-34" if cocok == "COCOK" else None,
                "pemohon_jenis_kelamin": "P" if cocok == "COCOK" else None,
                "pemohon_kode_kecamatan": kec if cocok == "COCOK" else None,
                "pemohon_kode_kelurahan": f"{kec}.1002" if cocok == "COCOK" else None,
                "pemohon_status": None,  # DPMPTSP's agreement does not include status
                "pencocokan": cocok,
                "menunggu_ms": 0 if cocok == "COCOK" else 300_000,
                **lineage(source, "permohonan", ts, n, dihapus),
            }
        )
    return rows


def keuangan_rows(fresh: Freshness) -> list[dict[str, Any]]:
    source = ("bkad", "keuangan")
    rows = []
    for i, (jenis, n, tahun, opd, nilai, rencana, tanggal, dihapus) in enumerate(KEUANGAN):
        ts = fresh.newest(source) - dt.timedelta(minutes=i)
        rows.append(
            {
                "jenis": jenis,
                "id": n,
                "tahun": tahun,
                "kode_opd": opd,
                "kode_program": "1.02.02" if jenis == "ANGGARAN" else None,
                "kode_kegiatan": "1.02.02.2.01",
                "nama_kegiatan": "Penyediaan layanan kesehatan" if jenis == "ANGGARAN" else None,
                "nilai": nilai,
                "rencana_kas": rencana,
                "tanggal": tanggal,
                "nomor_sp2d": f"SP2D-{n:05d}" if jenis == "REALISASI" else None,
                "uraian": "Pembayaran" if jenis == "REALISASI" else None,
                "updated_at": ts,
                **lineage(source, jenis.lower(), ts, i, dihapus),
            }
        )
    return rows


def perencanaan_rows(fresh: Freshness) -> list[dict[str, Any]]:
    source = ("bappeda", "perencanaan")
    rows = []
    for i, (opd, kode, nama, satuan, target, arah) in enumerate(TARGET):
        ts = fresh.newest(source) - dt.timedelta(minutes=i)
        rows.append(
            {
                "id": f"2026/{opd}/{kode}",
                "tahun": 2026,
                "kode_opd": opd,
                "kode_program": "1.02.02",
                "kode_indikator": kode,
                "nama_indikator": nama,
                "satuan": satuan,
                "target": target,
                "arah": arah,
                **lineage(source, "target", ts, i),
            }
        )
    return rows


def kinerja_rows(fresh: Freshness) -> list[dict[str, Any]]:
    rows = []
    seen: dict[str, int] = {}  # rows per OPD so far: each OPD's first row is its newest
    for i, (n, opd, kode, jenis, periode, nilai, reported, dihapus) in enumerate(KINERJA):
        source = (opd, "esakip")
        seen[opd] = seen.get(opd, -1) + 1
        ts = fresh.newest(source) - dt.timedelta(minutes=seen[opd])
        rows.append(
            {
                "id": n,
                "kode_opd": opd,
                "kode_indikator": kode,
                "tahun": 2026,
                "jenis_periode": jenis,
                "periode": periode,
                "realisasi": nilai,
                "satuan": "-",
                "dilaporkan_pada": reported,
                **lineage(source, "kinerja", ts, i, dihapus),
            }
        )
    return rows


def penduduk_rows(fresh: Freshness) -> list[dict[str, Any]]:
    """Citizens as the CDC snapshot of siak.penduduk delivers them: their lineage is built by
    the connector's and the processor's own code, so it holds what production rows hold."""
    source = ("disdukcapil", "siak")
    rows = []
    for i, (nik, pseudonim) in enumerate(zip(NIK, PENDUDUK, strict=True)):
        ts = fresh.newest(source) - dt.timedelta(seconds=i)
        row = lineage(source, "penduduk", ts, i)
        row["source_position"] = integrated_position(SNAPSHOT_POINT, nik)
        rows.append(
            {
                "nik_pseudonim": pseudonim,
                "kunci_pseudonim": "k1",
                "kelompok_umur": "30-34",
                "jenis_kelamin": "P",
                "kode_kecamatan": SELATAN,
                "kode_kelurahan": f"{SELATAN}.1002",
                "status": "HIDUP",
                "updated_at": ts,
                **row,
            }
        )
    return rows


def integrated_position(point: str, nik: str) -> str:
    """source.position of integrated.penduduk for a snapshot row: the CDC connector's
    snapshot position, carried by the processor's envelope."""
    source = {"opd": "disdukcapil", "system": "siak", "database": "siak", "table": "penduduk"}
    raw = {
        "op": "r",
        "source": {**source, "position": snapshot_position(point, nik)},
        "event_id": str(uuid.uuid4()),
    }
    protect = Pseudonymizer(b"fixture-key-" * 4, "k1")
    return outputs.envelope(raw, "r", {}, protect, (nik,))["source"]["position"]


def fill(conn: psycopg.Connection) -> Freshness:
    """Inserts the whole fixture; returns the freshness it was built around."""
    fresh = Freshness(dt.datetime.now(UTC).replace(microsecond=0), AGES)
    insert(conn, "perizinan", perizinan_rows(fresh))
    insert(conn, "keuangan", keuangan_rows(fresh))
    insert(conn, "perencanaan", perencanaan_rows(fresh))
    insert(conn, "kinerja", kinerja_rows(fresh))
    insert(conn, "penduduk", penduduk_rows(fresh))
    return fresh


@dataclass(frozen=True)
class MonevDatabase:
    name: str
    url: str
    fresh: Freshness | None

    def query(self, text: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(text.encode(), params or None).fetchall()


def config_for(database: str) -> Config:
    """The configuration with the sink's database swapped for `database`."""
    return config_module.load({**os.environ, "OPDBUS_SINK__DATABASE": database})


@contextmanager
def throwaway_database(
    config: Config, prefix: str, *, filled: bool = True, rebuild_views: bool = True
) -> Iterator[MonevDatabase]:
    """A fresh database migrated like `opdbus` by the real migrate step (and filled with the
    fixture), dropped afterwards. rebuild_views: also call views.recreate() as replay does
    after a swap (migrate has already built them, so this proves a rebuild is harmless)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(config.postgres_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            migrate.migrate(config_for(name))
            url = config.postgres_url(name)
            with psycopg.connect(url) as conn:
                if rebuild_views:
                    views.recreate(conn, "unified", config.section("sink")["analyst_role"])
                fresh = fill(conn) if filled else None
            yield MonevDatabase(name, url, fresh)
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
