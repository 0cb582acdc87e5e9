"""The report page and the terminal summary from figures built here (no database)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal as D

from opdbus.sinks.report import html, text
from opdbus.sinks.report.data import Cakupan, Capaian, Kesegaran, Layanan, Monev, Serapan
from opdbus.sinks.report.ringkasan import ringkas, status_kesegaran

NOW = dt.datetime(2026, 11, 28, 4, 0, tzinfo=dt.UTC)
EMPTY = Monev(NOW, [], [], [], [], None, [], [])


def layanan(kecamatan: str, n: int, on_time: int | None, maks: int | None = 30) -> Layanan:
    share = None if on_time is None else D(100 * on_time / n).quantize(D("0.01"))
    return Layanan("PBG", kecamatan, None, n, D("10"), D("20"), maks, on_time, share)


def serapan(opd: str, bulan: int, pagu: int, paid: int, plan: int, this_month: int) -> Serapan:
    persen = D(100 * paid / pagu).quantize(D("0.01")) if pagu else None
    rencana = D(100 * plan / pagu).quantize(D("0.01")) if pagu else None
    deviasi = persen - rencana if persen is not None and rencana is not None else None
    return Serapan(
        opd, 2026, bulan, D(pagu), D(this_month), D(paid), persen, D(plan), rencana, deviasi
    )


def test_an_empty_database_gives_a_page_that_says_so_in_every_section():
    page = html.page(EMPTY)
    assert page.count("Belum ada data.") == 5
    assert "belum ada data" in page  # the header's data period
    assert text.summary(EMPTY).count("belum ada data (no data yet)") == 5


def test_city_on_time_share_is_summed_from_counts_not_averaged_from_percentages():
    # 1 of 1 on time in one kecamatan, 1 of 9 in another: 2 / 10 = 20%, not (100 + 11.11) / 2.
    monev = Monev(NOW, [layanan("61.71.01", 1, 1), layanan("61.71.02", 9, 1)], [], [], [],
                  None, [], [])  # fmt: skip
    assert ringkas(monev).persen_tepat_waktu == D("20.00")
    assert "20,00% tepat waktu" in html.page(monev)


def test_licence_types_without_a_standard_stay_out_of_the_on_time_share():
    monev = Monev(NOW, [layanan("61.71.01", 4, 2), layanan("61.71.05", 6, None, maks=None)],
                  [], [], [], None, [], [])  # fmt: skip
    summary = ringkas(monev)
    assert (summary.diputus, summary.berstandar, summary.persen_tepat_waktu) == (10, 4, D("50"))


def test_absorption_is_shown_as_of_the_last_month_with_payments():
    rows = [serapan("dinkes", m, 1000, 250 if m >= 3 else 0, 100 * m, 250 if m == 3 else 0)
            for m in range(1, 13)]  # fmt: skip
    monev = Monev(NOW, [], [], rows, [], None, [], [])
    assert monev.bulan_realisasi == 3
    summary = ringkas(monev)
    assert (summary.persen_serapan, summary.persen_rencana) == (D("25.00"), D("30.00"))
    page = html.page(monev)
    assert "Realisasi s.d. Maret" in page
    assert "-5,00" in page  # deviasi at March, marked as behind plan
    assert re.search(r'class="neg">-5,00<', page)


def test_achievement_bars_take_the_colour_of_their_sakip_grade():
    graded = Capaian("dinkes", "IKU-02", 2026, "AKI", "per 100.000 KH", "TURUN", 100.0,
                     "TRIWULAN", 2, 90.0, D("110.00"), "AA")  # fmt: skip
    page = html.page(Monev(NOW, [], [], [], [graded], None, [], []))
    assert 'fill="#1b5e20"' in page  # AA
    assert "110,00% · AA" in page


def test_freshness_is_judged_against_the_expected_interval_of_the_source_system():
    def source(system: str, seconds: int) -> Kesegaran:
        return Kesegaran("bkad", system, "keuangan", 1, NOW, D(seconds), NOW)

    expected = {"keuangan": 3600, "perencanaan": 0}
    assert status_kesegaran(source("keuangan", 60), expected)[0] == "segar"
    assert status_kesegaran(source("keuangan", 7200), expected)[0] == "terlambat"
    assert status_kesegaran(source("perencanaan", 10**7), expected)[0] == "tanpa_batas"
    assert status_kesegaran(source("lain", 1), expected)[0] == "tanpa_batas"


def test_data_from_the_views_is_escaped_in_the_page():
    hostile = Cakupan(None, 1, 1, D("100"))
    indicator = Capaian("<b>opd</b>", "<script>x</script>", 2026, None, None, None, None,
                        None, None, None, None, None)  # fmt: skip
    page = html.page(Monev(NOW, [], [], [], [indicator], hostile, [], []))
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    assert "<b>opd</b>" not in page


def test_the_summary_counts_grades():
    grades = [
        Capaian("o", f"I{n}", 2026, None, None, "NAIK", 1.0, "BULAN", 1, 1.0, D(p), g)
        for n, (p, g) in enumerate([("95", "AA"), ("85", "A"), ("10", "D")])
    ]
    assert ringkas(Monev(NOW, [], [], [], grades, None, [], [])).predikat == Counter(
        {"AA": 1, "A": 1, "D": 1}
    )
