"""The M&E summary as plain-text tables for a terminal (`opdbus report`, `opdbus demo`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opdbus.sinks.report import fmt
from opdbus.sinks.report.data import Monev
from opdbus.sinks.report.ringkasan import (
    LAYANAN_HEADERS,
    LAYANAN_NUMERIC,
    layanan_cells,
    ringkas,
    status_kesegaran,
)

BELUM_ADA = "  belum ada data (no data yet)"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()
) -> str:
    """Columns padded to their widest cell; indexes in `right` align right."""
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "  " + "  ".join(padded).rstrip()

    rule = "  " + "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _layanan(monev: Monev) -> str:
    rows = [layanan_cells(r) for r in monev.layanan]
    return table(LAYANAN_HEADERS, rows, right=LAYANAN_NUMERIC) if rows else BELUM_ADA


def _serapan(monev: Monev) -> str:
    month = monev.bulan_realisasi or 12
    rows = [
        [
            s.kode_opd,
            fmt.rupiah(s.pagu) if s.pagu > 0 else "belum ada pagu",
            fmt.rupiah(s.realisasi_kumulatif),
            fmt.persen(s.persen_serapan),
            fmt.persen(s.persen_rencana),
            fmt.angka(s.deviasi),
        ]
        for s in monev.serapan_tahun
        if s.bulan == month
    ]
    headers = ["OPD", "Pagu", f"Realisasi s.d. {fmt.BULAN[month - 1]}", "Serapan", "Rencana",
               "Deviasi (poin)"]  # fmt: skip
    return table(headers, rows, right=(1, 2, 3, 4, 5)) if rows else BELUM_ADA


def _capaian(monev: Monev) -> str:
    rows = [
        [
            c.kode_opd,
            c.kode_indikator,
            c.arah or fmt.DASH,
            fmt.angka(c.target),
            fmt.angka(c.realisasi),
            fmt.persen(c.capaian_persen),
            c.predikat or fmt.DASH,
        ]
        for c in monev.capaian_tahun
    ]
    headers = ["OPD", "Indikator", "Arah", "Target", "Realisasi", "Capaian", "Predikat"]
    return table(headers, rows, right=(3, 4, 5)) if rows else BELUM_ADA


def _cakupan(monev: Monev) -> str:
    every = [*monev.cakupan_bulanan, *([monev.cakupan] if monev.cakupan else [])]
    rows = [
        [
            fmt.bulan_tahun(c.bulan) if c.bulan else "Seluruh periode",
            c.jumlah,
            c.jumlah_cocok,
            fmt.persen(c.persen_cocok),
        ]
        for c in every
    ]
    return (
        table(["Bulan pengajuan", "Permohonan", "Cocok", "Cakupan"], rows, right=(1, 2, 3))
        if rows
        else BELUM_ADA
    )


def _kesegaran(monev: Monev, expected: Mapping[str, int]) -> str:
    rows = [
        [
            f"{s.source_opd} / {s.source_system}",
            fmt.angka(s.jumlah_baris, 0),
            fmt.waktu(s.sumber_terbaru),
            fmt.umur(s.detik_sejak_terbaru),
            status_kesegaran(s, expected)[1],
        ]
        for s in monev.kesegaran
    ]
    headers = ["Sumber", "Baris", "Peristiwa terbaru", "Umur", "Status"]
    return table(headers, rows, right=(1,)) if rows else BELUM_ADA


def summary(monev: Monev, expected: Mapping[str, int] | None = None) -> str:
    """The M&E summary: headline figures, then one table per view."""
    r = ringkas(monev)
    period = monev.periode
    shown = (
        f"{fmt.bulan_tahun(period[0])} {fmt.NDASH} {fmt.bulan_tahun(period[1])}"
        if period
        else "belum ada data"
    )
    year, kinerja_year = monev.tahun_anggaran, monev.tahun_kinerja
    sections = [
        f"Ringkasan monitoring dan evaluasi Kota Pontianak (M&E summary)\n"
        f"  dibuat {fmt.waktu(monev.dibuat)}; periode data {shown}\n"
        f"  izin diputus {r.diputus}, tepat waktu {fmt.persen(r.persen_tepat_waktu)}; "
        f"serapan anggaran {fmt.persen(r.persen_serapan)} "
        f"(rencana {fmt.persen(r.persen_rencana)}); "
        f"cakupan penduduk {fmt.persen(monev.cakupan.persen_cocok if monev.cakupan else None)}",
        "Layanan perizinan per kecamatan, seluruh periode (licensing service level)\n"
        + _layanan(monev),
        f"Serapan anggaran {year or ''} per OPD (budget absorption vs plan)\n" + _serapan(monev),
        f"Capaian kinerja {kinerja_year or ''} (indicator achievement, SAKIP grade)\n"
        + _capaian(monev),
        "Cakupan penduduk (applications matched to a citizen)\n" + _cakupan(monev),
        "Kesegaran data per sumber (freshness)\n" + _kesegaran(monev, expected or {}),
    ]
    return "\n\n".join(sections) + "\n"
