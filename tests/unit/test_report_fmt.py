"""Indonesian number, money, date and age formats of the report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from opdbus.sinks.report import fmt


def test_numbers_group_thousands_with_dots_and_decimals_with_a_comma():
    assert fmt.angka(1234567.891) == "1.234.567,89"
    assert fmt.angka(Decimal("-8.33")) == "-8,33"
    assert fmt.angka(12, 0) == "12"
    assert fmt.angka(None) == fmt.DASH


def test_percentages_and_days():
    assert fmt.persen(Decimal("71.43")) == "71,43%"
    assert fmt.persen(None) == fmt.DASH
    assert fmt.hari(Decimal("34.6")) == "34,60 hari"


def test_rupiah_in_full_shows_cents_only_when_there_are_any():
    assert fmt.rupiah(Decimal("1000000000.00")) == "Rp1.000.000.000"
    assert fmt.rupiah(Decimal("1250.50")) == "Rp1.250,50"


def test_short_rupiah_uses_juta_and_miliar():
    assert fmt.rupiah_singkat(Decimal("1000000000")) == "Rp1,00 M"
    assert fmt.rupiah_singkat(240_000_000) == "Rp240,00 jt"
    assert fmt.rupiah_singkat(950) == "Rp950"


def test_moments_are_shown_in_wib():
    # 31 March 18:00 UTC is already 1 April in Pontianak.
    moment = dt.datetime(2026, 3, 31, 18, 0, tzinfo=dt.UTC)
    assert fmt.waktu(moment) == "1 April 2026 01:00 WIB"
    assert fmt.bulan_tahun(dt.date(2026, 8, 1)) == "Agustus 2026"
    assert fmt.BULAN_PENDEK[7] == "Agu"


def test_ages_use_the_two_largest_units():
    assert fmt.umur(Decimal("300.19")) == "5 menit"
    assert fmt.umur(90061) == "1 hari 1 jam"
    assert fmt.umur(86400 + 59) == "1 hari"
    assert fmt.umur(3600 * 5 + 60 * 3) == "5 jam 3 menit"
    assert fmt.umur(0) == "0 detik"
    assert fmt.umur(None) == fmt.DASH
