"""The monev views on the real PostgreSQL, proved against numbers worked out by hand.

The rows are in test_monev_fixture.py; the arithmetic is here, next to each assertion. Percentages
and days are compared exactly: the views round them to 2 decimals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from opdbus.config import Config
from opdbus.sinks import views
from opdbus.stack.manager import Stack

from .test_monev_fixture import (
    AGES,
    BARAT,
    KOTA,
    SELATAN,
    TIMUR,
    MonevDatabase,
    throwaway_database,
)

M = D(1_000_000)


@pytest.fixture(scope="module")
def db(stack: Stack, config: Config) -> Iterator[MonevDatabase]:
    with throwaway_database(config, "test_monev") as filled:
        yield filled


def select(db: MonevDatabase, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(db.url, row_factory=dict_row) as conn:
        return conn.execute(query.encode(), params or None).fetchall()


def layanan(db: MonevDatabase, lingkup: str) -> dict[tuple, tuple]:
    rows = select(db, "SELECT * FROM monev.layanan_perizinan WHERE lingkup = %s", lingkup)
    assert {r["kode_opd"] for r in rows} == {"dpmptsp"}
    return {
        (r["jenis_izin"], r["kode_kecamatan"], r["bulan"] and r["bulan"].isoformat()): (
            r["jumlah"],
            r["median_hari"],
            r["p90_hari"],
            r["maks_hari"],
            r["jumlah_tepat_waktu"],
            r["persen_tepat_waktu"],
        )
        for r in rows
    }


# --- monev.layanan_perizinan ---------------------------------------------------------------


def test_service_level_per_month_has_hand_computed_median_p90_and_on_time_share(db):
    assert layanan(db, "bulan") == {
        # Selatan, March (WIB): days 5, 10, 12.5, 20, 30, 31 (n = 6).
        #   median = (12.5 + 20) / 2 = 16.25
        #   p90: rank 0.9 x (6 - 1) = 4.5 -> 30 + 0.5 x (31 - 30) = 30.5
        #   on time (<= 30 days, 30 itself included): 5 of 6 = 83.333.. -> 83.33
        ("PBG", SELATAN, "2026-03-01"): (6, D("16.25"), D("30.50"), 30, 5, D("83.33")),
        # Selatan, April: the refusal decided 2026-03-31T18:00Z = 1 April 01:00 WIB, 40 days.
        ("PBG", SELATAN, "2026-04-01"): (1, D("40.00"), D("40.00"), 30, 0, D("0.00")),
        # Timur, April: days 10, 40. median 25; p90: 10 + 0.9 x 30 = 37; on time 1 of 2.
        ("PBG", TIMUR, "2026-04-01"): (2, D("25.00"), D("37.00"), 30, 1, D("50.00")),
        # Barat, NIB (standard 1 day), March: days 0.5, 2. median 1.25; p90 0.5 + 0.9 x 1.5
        # = 1.85; on time 1 of 2.
        ("NIB", BARAT, "2026-03-01"): (2, D("1.25"), D("1.85"), 1, 1, D("50.00")),
        # REKLAME has no configured standard: no on-time figures.
        ("REKLAME", KOTA, "2026-03-01"): (1, D("3.00"), D("3.00"), None, None, None),
    }


def test_service_level_over_the_whole_period_pools_the_months(db):
    periode = layanan(db, "periode")
    # Selatan, all 7 live decisions: 5, 10, 12.5, 20, 30, 31, 40.
    #   median = the 4th = 20; p90: rank 0.9 x 6 = 5.4 -> 31 + 0.4 x (40 - 31) = 34.6
    #   on time 5 of 7 = 71.428.. -> 71.43 (neither monthly median 16.25 nor 40 gives 20)
    assert periode[("PBG", SELATAN, None)] == (7, D("20.00"), D("34.60"), 30, 5, D("71.43"))
    assert periode[("PBG", TIMUR, None)] == (2, D("25.00"), D("37.00"), 30, 1, D("50.00"))
    assert set(periode) == {
        ("PBG", SELATAN, None),
        ("PBG", TIMUR, None),
        ("NIB", BARAT, None),
        ("REKLAME", KOTA, None),
    }


def test_service_level_counts_only_live_decided_applications(db):
    # Selatan has 9 rows: #8 is still under review, #9 (decided in 1 day) was deleted. Had #9
    # counted, March would have 7 decisions and a median of 12.5.
    rows = select(
        db,
        "SELECT jumlah, jumlah_terbit, jumlah_ditolak FROM monev.layanan_perizinan "
        "WHERE lingkup = 'periode' AND jenis_izin = 'PBG' AND kode_kecamatan = %s",
        SELATAN,
    )
    assert rows == [{"jumlah": 7, "jumlah_terbit": 6, "jumlah_ditolak": 1}]


# --- monev.serapan_anggaran ----------------------------------------------------------------


def serapan(db: MonevDatabase, opd: str, tahun: int) -> list[tuple]:
    rows = select(
        db,
        "SELECT * FROM monev.serapan_anggaran WHERE kode_opd = %s AND tahun = %s ORDER BY bulan",
        opd,
        tahun,
    )
    assert [r["bulan"] for r in rows] == list(range(1, 13))
    return [
        (
            r["pagu"],
            r["realisasi_kumulatif"],
            r["persen_serapan"],
            r["rencana_kumulatif"],
            r["persen_rencana"],
            r["deviasi"],
        )
        for r in rows
    ]


def test_budget_absorption_is_cumulative_against_the_cumulative_plan(db):
    # dinkes 2026: pagu 600 M + 400 M = 1,000 M. Plan: 50 M every month + 100 M in each
    # quarter's last month, so plan(m) = 50 M x m + 100 M x (m // 3).
    # Payments: 30 M on 15 Jan and 20 M on 31 Jan (end of month counts), 200 M on 10 Mar,
    # 125 M on 1 Apr; the 5 M of 20 Mar was deleted and does not count.
    # Cumulative: Jan 50, Feb 50, Mar 250, Apr..Dec 375 (M). Percent = x / 1,000 M x 100.
    pagu = 1000 * M
    plan = [50 * m + 100 * (m // 3) for m in range(1, 13)]  # 50 100 250 300 350 500 ...
    paid = [50, 50, 250] + [375] * 9
    expected = [
        (pagu, p * M, D(p) / 10, r * M, D(r) / 10, D(p - r) / 10)
        for p, r in zip(paid, plan, strict=True)
    ]
    got = serapan(db, "dinkes", 2026)
    assert got == expected
    # Spelled out for three months: Feb 5.00% vs 10.00% plan (-5.00), Apr 37.50% vs 30.00%
    # (+7.50), Dec 37.50% vs 100.00% (-62.50).
    assert got[1][2:] == (D("5.00"), 100 * M, D("10.00"), D("-5.00"))
    assert got[3][2:] == (D("37.50"), 300 * M, D("30.00"), D("7.50"))
    assert got[11][2:] == (D("37.50"), 1000 * M, D("100.00"), D("-62.50"))


def test_budget_absorption_rounds_each_percentage_then_subtracts(db):
    # disdukcapil 2026: pagu 240 M, plan 20 M a month, 60 M paid on 10 Feb.
    # Jan: 0 / 240 = 0.00%; plan 20 / 240 = 8.333.. -> 8.33; deviasi -8.33
    # Feb: 60 / 240 = 25.00%; plan 40 / 240 = 16.666.. -> 16.67; deviasi 25.00 - 16.67 = 8.33
    got = serapan(db, "disdukcapil", 2026)
    assert got[0] == (240 * M, 0, D("0.00"), 20 * M, D("8.33"), D("-8.33"))
    assert got[1] == (240 * M, 60 * M, D("25.00"), 40 * M, D("16.67"), D("8.33"))


def test_payments_without_a_budget_show_with_no_percentages(db):
    # dinkes paid 10 M on 30 Dec 2025 with no 2025 budget row: pagu 0, percentages NULL.
    got = serapan(db, "dinkes", 2025)
    assert got[11] == (0, 10 * M, None, 0, None, None)
    assert got[10][1] == 0


# --- monev.capaian_kinerja -----------------------------------------------------------------


def capaian(db: MonevDatabase) -> dict[tuple[str, str], tuple]:
    rows = select(db, "SELECT * FROM monev.capaian_kinerja WHERE tahun = 2026")
    return {
        (r["kode_opd"], r["kode_indikator"]): (
            r["arah"],
            r["target"],
            r["jenis_periode"],
            r["periode"],
            r["realisasi"],
            r["capaian_persen"],
            r["predikat"],
        )
        for r in rows
    }


def test_indicator_achievement_with_the_lower_is_better_rule_and_sakip_bands(db):
    assert capaian(db) == {
        # NAIK: 68 / 80 x 100 = 85.00 -> A [80, 90). Latest of TRIWULAN 1 (60) and 2 (68).
        ("dinkes", "IKU-01"): ("NAIK", 80, "TRIWULAN", 2, 68, D("85.00"), "A"),
        # TURUN: (1 + (1 - 90 / 100)) x 100 = 110.00 -> AA (above 100 counts as AA).
        ("dinkes", "IKU-02"): ("TURUN", 100, "TRIWULAN", 2, 90, D("110.00"), "AA"),
        # TURUN: (1 + (1 - 50 / 20)) x 100 = -50.00 -> D (below 30, negative too).
        ("dinkes", "IKU-03"): ("TURUN", 20, "BULAN", 6, 50, D("-50.00"), "D"),
        # A realisation without a target: no achievement.
        ("dinkes", "IKU-09"): (None, None, "BULAN", 1, 5, None, None),
        # NAIK: 45 / 90 x 100 = 50.00 -> CC: a lower bound belongs to its band.
        ("dpmptsp", "IKU-01"): ("NAIK", 90, "BULAN", 3, 45, D("50.00"), "CC"),
        # NAIK: 150 / 200 x 100 = 75.00 -> BB [70, 80).
        ("dpmptsp", "IKU-02"): ("NAIK", 200, "SEMESTER", 1, 150, D("75.00"), "BB"),
        # TURUN: (1 + (1 - 17 / 10)) x 100 = 30 (29.999999999999996 in float8) -> 30.00 -> C:
        # the grade is read from the rounded figure, as published.
        ("disdukcapil", "IKU-01"): ("TURUN", 10, "SEMESTER", 1, 17, D("30.00"), "C"),
        # Its only realisation was deleted: the target stays, unreported.
        ("disdukcapil", "IKU-02"): ("NAIK", 100, None, None, None, None, None),
    }


def test_latest_realisation_is_the_longest_period_ending_last(db):
    # dinkes IKU-02: BULAN 5 (120), BULAN 6 (85, reported last) and TRIWULAN 2 (90) — June
    # ends both BULAN 6 and TRIWULAN 2; the quarter covers more, so 90 is the latest figure.
    (row,) = select(
        db,
        "SELECT jenis_periode, periode, realisasi FROM monev.capaian_kinerja "
        "WHERE kode_opd = 'dinkes' AND kode_indikator = 'IKU-02'",
    )
    assert row == {"jenis_periode": "TRIWULAN", "periode": 2, "realisasi": 90.0}


# --- monev.cakupan_penduduk ----------------------------------------------------------------


def test_population_coverage_per_month_of_submission_and_overall(db):
    rows = select(db, "SELECT * FROM monev.cakupan_penduduk ORDER BY bulan NULLS LAST")
    got = [
        (r["lingkup"], r["bulan"] and r["bulan"].isoformat(), r["jumlah"], r["jumlah_cocok"],
         r["jumlah_tidak_cocok"], r["persen_cocok"])
        for r in rows
    ]  # fmt: skip
    assert got == [
        # Submitted in February (WIB): #5, #6 matched, #7 not -> 2 / 3 = 66.67
        ("bulan", "2026-02-01", 3, 2, 1, D("66.67")),
        # March: #1-#4, #8, #12, #13 matched; #11 (2026-02-28T20:00Z = 1 March WIB) and #14
        # not -> 7 / 9 = 77.78
        ("bulan", "2026-03-01", 9, 7, 2, D("77.78")),
        # April: #10 matched -> 100
        ("bulan", "2026-04-01", 1, 1, 0, D("100.00")),
        # Overall: 13 live rows (deleted #9 left out), 10 matched -> 76.923.. = 76.92
        ("periode", None, 13, 10, 3, D("76.92")),
    ]


# --- monev.kesegaran_data ------------------------------------------------------------------


def test_freshness_per_source_is_now_minus_its_newest_event(db):
    # One statement, so the view's now() and the expected one are the same instant.
    rows = select(
        db,
        "SELECT k.*, extract(epoch FROM now() - %s::timestamptz) AS base "
        "FROM monev.kesegaran_data AS k",
        db.fresh.now,
    )
    got = {(r["source_opd"], r["source_system"]): r for r in rows}
    assert set(got) == set(AGES)
    for source, age in AGES.items():
        row = got[source]
        newest = db.fresh.newest(source)
        assert row["sumber_terbaru"] == newest, source
        # now - newest = (now - fixture's now) + age
        assert row["detik_sejak_terbaru"] == row["base"] + D(int(age.total_seconds())), source
        # the sink wrote each row 2 s after its commit (fixture lineage)
        assert row["masuk_terbaru"] == newest + dt.timedelta(seconds=2), source
    counts = {source: (r["tabel"], r["jumlah_baris"]) for source, r in got.items()}
    assert counts == {
        ("dpmptsp", "perizinan"): ("perizinan", 13),  # 14 rows, #9 deleted
        ("bkad", "keuangan"): ("keuangan", 9),  # 10 rows, one payment deleted
        ("bappeda", "perencanaan"): ("perencanaan", 7),
        ("dinkes", "esakip"): ("kinerja", 7),
        ("dpmptsp", "esakip"): ("kinerja", 2),
        ("disdukcapil", "esakip"): ("kinerja", 1),  # k10 deleted
        ("disdukcapil", "siak"): ("penduduk", 3),
    }


def test_a_delete_is_the_newest_news_from_its_source(db):
    # Row #9 of perizinan was deleted an hour ago; every live row is older. Freshness must
    # say one hour, not the two hours of the newest live row.
    (row,) = select(
        db,
        "SELECT k.sumber_terbaru, (SELECT max(source_ts) FROM unified.perizinan "
        "WHERE NOT dihapus) AS newest_live FROM monev.kesegaran_data k "
        "WHERE source_opd = 'dpmptsp' AND source_system = 'perizinan'",
    )
    assert row["sumber_terbaru"] == db.fresh.newest(("dpmptsp", "perizinan"))
    assert row["newest_live"] < row["sumber_terbaru"]


# --- building the views --------------------------------------------------------------------


def test_recreate_builds_the_views_over_the_schema_it_is_given(db, config: Config):
    # What replay does: the same views over another schema. Here a copy holding Timur's two
    # applications only; rolled back, so the module's database is untouched.
    with psycopg.connect(db.url) as conn:
        conn.execute("CREATE SCHEMA unified_salinan")
        for table in ("perizinan", "keuangan", "perencanaan", "kinerja", "penduduk"):
            conn.execute(f"CREATE TABLE unified_salinan.{table} (LIKE unified.{table})".encode())
        conn.execute(
            "INSERT INTO unified_salinan.perizinan SELECT * FROM unified.perizinan "
            "WHERE kode_kecamatan = %s",
            (TIMUR,),
        )
        views.recreate(conn, "unified_salinan", config.section("sink")["analyst_role"])
        got = conn.execute(
            "SELECT kode_kecamatan, jumlah FROM monev.layanan_perizinan WHERE lingkup = 'periode'"
        ).fetchall()
        conn.rollback()
    assert got == [(TIMUR, 2)]


def test_migrate_builds_the_five_monev_views(stack: Stack, config: Config):
    # The real migrate step alone (no explicit recreate) must leave the views in place.
    with throwaway_database(
        config, "test_monev_migrate", filled=False, rebuild_views=False
    ) as empty:
        names = select(empty, "SELECT viewname FROM pg_views WHERE schemaname = 'monev'")
        assert sorted(r["viewname"] for r in names) == sorted(views.VIEWS)


def test_views_on_empty_tables_return_no_rows(stack: Stack, config: Config):
    with throwaway_database(config, "test_monev_empty", filled=False) as empty:
        for view in views.VIEWS:
            assert select(empty, f"SELECT * FROM monev.{view}") == [], view
