"""City-wide headline figures, summed from the views' counts and amounts (never averaged from
their percentages, which would weigh a small kecamatan like a large one), and the cells both
reports (terminal and HTML) show alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from opdbus.sinks.report import fmt, names
from opdbus.sinks.report.data import Kesegaran, Layanan, Monev


def _persen(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Ringkasan:
    diputus: int  # decided licence applications, whole period
    tepat_waktu: int  # of those with a standard, decided within it
    berstandar: int  # decided applications whose licence type has a standard
    pagu: Decimal  # shown fiscal year, OPDs with a budget
    realisasi: Decimal  # cumulative up to the last month with payments
    rencana: Decimal  # cumulative plan up to that month
    predikat: Counter[str]  # indicators per SAKIP band (shown year)
    indikator: int  # indicators of the shown year

    @property
    def persen_tepat_waktu(self) -> Decimal | None:
        return _persen(self.tepat_waktu, self.berstandar)

    @property
    def persen_serapan(self) -> Decimal | None:
        return _persen(self.realisasi, self.pagu)

    @property
    def persen_rencana(self) -> Decimal | None:
        return _persen(self.rencana, self.pagu)


def ringkas(monev: Monev) -> Ringkasan:
    standard = [row for row in monev.layanan if row.maks_hari is not None]
    month = monev.bulan_realisasi
    at_month = [
        s for s in monev.serapan_tahun if s.pagu > 0 and month is not None and s.bulan == month
    ]
    return Ringkasan(
        diputus=sum(row.jumlah for row in monev.layanan),
        tepat_waktu=sum(row.jumlah_tepat_waktu or 0 for row in standard),
        berstandar=sum(row.jumlah for row in standard),
        pagu=sum((s.pagu for s in at_month), Decimal(0)),
        realisasi=sum((s.realisasi_kumulatif for s in at_month), Decimal(0)),
        rencana=sum((s.rencana_kumulatif for s in at_month), Decimal(0)),
        predikat=Counter(c.predikat for c in monev.capaian_tahun if c.predikat),
        indikator=len(monev.capaian_tahun),
    )


def status_kesegaran(source: Kesegaran, expected: Mapping[str, int]) -> tuple[str, str]:
    """(state, label) of a source against config observe.expected_interval_s of its system:
    state is segar (fresh), terlambat (late) or tanpa_batas (no limit configured)."""
    limit = expected.get(source.source_system or "")
    if not limit:
        return "tanpa_batas", "tanpa batas (no limit)"
    if source.detik_sejak_terbaru is not None and source.detik_sejak_terbaru <= limit:
        return "segar", f"segar (≤ {fmt.umur(limit)})"
    return "terlambat", f"terlambat (> {fmt.umur(limit)})"


LAYANAN_HEADERS = [
    "Izin",
    "Kecamatan",
    "Diputus",
    "Median hari",
    "P90 hari",
    "Standar",
    "Tepat waktu",
]
LAYANAN_NUMERIC = (2, 3, 4, 5, 6)


def layanan_cells(r: Layanan) -> list[object]:
    """One licence type in one kecamatan: the licensing service-level table's row."""
    return [
        r.jenis_izin,
        names.kecamatan(r.kode_kecamatan),
        r.jumlah,
        fmt.angka(r.median_hari),
        fmt.angka(r.p90_hari),
        r.maks_hari if r.maks_hari is not None else fmt.DASH,
        fmt.persen(r.persen_tepat_waktu),
    ]
