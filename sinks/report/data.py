"""The M&E figures as the report shows them, read from the monev views in one snapshot."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row


@dataclass(frozen=True)
class Layanan:
    """monev.layanan_perizinan, one jenis_izin x kecamatan (x month)."""

    jenis_izin: str
    kode_kecamatan: str | None
    bulan: dt.date | None
    jumlah: int
    median_hari: Decimal | None
    p90_hari: Decimal | None
    maks_hari: int | None
    jumlah_tepat_waktu: int | None
    persen_tepat_waktu: Decimal | None


@dataclass(frozen=True)
class Serapan:
    """monev.serapan_anggaran, one OPD x year x month."""

    kode_opd: str
    tahun: int
    bulan: int
    pagu: Decimal
    realisasi_bulan: Decimal
    realisasi_kumulatif: Decimal
    persen_serapan: Decimal | None
    rencana_kumulatif: Decimal
    persen_rencana: Decimal | None
    deviasi: Decimal | None


@dataclass(frozen=True)
class Capaian:
    """monev.capaian_kinerja, one OPD x indicator x year."""

    kode_opd: str
    kode_indikator: str
    tahun: int
    nama_indikator: str | None
    satuan: str | None
    arah: str | None
    target: float | None
    jenis_periode: str | None
    periode: int | None
    realisasi: float | None
    capaian_persen: Decimal | None
    predikat: str | None


@dataclass(frozen=True)
class Cakupan:
    """monev.cakupan_penduduk, one month (bulan) or the whole period (bulan None)."""

    bulan: dt.date | None
    jumlah: int
    jumlah_cocok: int
    persen_cocok: Decimal | None


@dataclass(frozen=True)
class Kesegaran:
    """monev.kesegaran_data, one source."""

    source_opd: str | None
    source_system: str | None
    tabel: str
    jumlah_baris: int
    sumber_terbaru: dt.datetime | None
    detik_sejak_terbaru: Decimal | None
    masuk_terbaru: dt.datetime | None


@dataclass(frozen=True)
class Monev:
    """Everything the report and the terminal summary show; views read in one snapshot."""

    dibuat: dt.datetime  # now() of the reading transaction (the freshness ages' reference)
    layanan: list[Layanan]  # lingkup periode: whole period per jenis_izin x kecamatan
    layanan_bulanan: list[Layanan]
    serapan: list[Serapan]  # every year; see tahun_anggaran
    capaian: list[Capaian]  # every year; see tahun_kinerja
    cakupan: Cakupan | None  # lingkup periode
    cakupan_bulanan: list[Cakupan]
    kesegaran: list[Kesegaran]

    @property
    def kosong(self) -> bool:
        return not (self.layanan or self.serapan or self.capaian or self.cakupan or self.kesegaran)

    @property
    def tahun_anggaran(self) -> int | None:
        """The latest fiscal year with a budget (else with payments): the one shown."""
        budgeted = [s.tahun for s in self.serapan if s.pagu > 0]
        years = budgeted or [s.tahun for s in self.serapan]
        return max(years, default=None)

    @property
    def serapan_tahun(self) -> list[Serapan]:
        return [s for s in self.serapan if s.tahun == self.tahun_anggaran]

    @property
    def bulan_realisasi(self) -> int | None:
        """The last month of the shown year with any payment: the year's figures are 'as of'
        it (later months only repeat the cumulative total)."""
        paid = [s.bulan for s in self.serapan_tahun if s.realisasi_bulan > 0]
        return max(paid, default=None)

    @property
    def tahun_kinerja(self) -> int | None:
        return max((c.tahun for c in self.capaian), default=None)

    @property
    def capaian_tahun(self) -> list[Capaian]:
        return [c for c in self.capaian if c.tahun == self.tahun_kinerja]

    @property
    def periode(self) -> tuple[dt.date, dt.date] | None:
        """First and last month with activity: decisions, submissions or payments."""
        months = [row.bulan for row in self.layanan_bulanan if row.bulan]
        months += [row.bulan for row in self.cakupan_bulanan if row.bulan]
        months += [dt.date(s.tahun, s.bulan, 1) for s in self.serapan if s.realisasi_bulan > 0]
        return (min(months), max(months)) if months else None


Row = TypeVar("Row")


def _rows(
    conn: psycopg.Connection, kind: type[Row], view: str, order: str, lingkup: str = ""
) -> list[Row]:
    """The view's columns named like kind's fields, as kind instances."""
    columns = sql.SQL(", ").join(sql.Identifier(f.name) for f in fields(kind))  # type: ignore[arg-type]
    where = sql.SQL("WHERE lingkup = {}").format(lingkup) if lingkup else sql.SQL("")
    query = sql.SQL("SELECT {} FROM monev.{} {} {}").format(
        columns, sql.Identifier(view), where, sql.SQL(order)
    )
    with conn.cursor(row_factory=class_row(kind)) as cur:
        return cur.execute(query).fetchall()


def read(conn: psycopg.Connection) -> Monev:
    """Reads every monev view in one snapshot, so the figures agree with each other even while
    the sink writes: its own REPEATABLE READ, READ ONLY transaction when `conn` is idle, else
    the caller's transaction."""
    idle = conn.info.transaction_status == TransactionStatus.IDLE
    with conn.transaction():
        if idle:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        now: Any = conn.execute("SELECT now()").fetchone()
        layanan = "layanan_perizinan", "ORDER BY jenis_izin, kode_kecamatan, bulan"
        cakupan = "cakupan_penduduk", "ORDER BY bulan"
        return Monev(
            dibuat=now[0],
            layanan=_rows(conn, Layanan, *layanan, lingkup="periode"),
            layanan_bulanan=_rows(conn, Layanan, *layanan, lingkup="bulan"),
            serapan=_rows(conn, Serapan, "serapan_anggaran", "ORDER BY kode_opd, tahun, bulan"),
            capaian=_rows(
                conn, Capaian, "capaian_kinerja", "ORDER BY tahun, kode_opd, kode_indikator"
            ),
            cakupan=next(iter(_rows(conn, Cakupan, *cakupan, lingkup="periode")), None),
            cakupan_bulanan=_rows(conn, Cakupan, *cakupan, lingkup="bulan"),
            kesegaran=_rows(
                conn, Kesegaran, "kesegaran_data", "ORDER BY source_opd, source_system"
            ),
        )
