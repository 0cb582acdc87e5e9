"""Domain rules: NIK validation (each rule on its own), region codes, the configured OPD list."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from opdbus import rules
from opdbus.config import REPO_ROOT, load
from opdbus.rules import RuleViolation, nik_birth_date, nik_sex, nik_violations, validate_nik

TODAY = dt.date(2026, 11, 28)
# Real-shaped NIKs: Pontianak Selatan (6171 01), a man born 25-09-1990 and a woman born the
# same day (day + 40), and a citizen first registered in Kab. Kubu Raya (6112 03).
MAN = "6171012509900001"
WOMAN = "6171016509900002"
KUBU_RAYA = "6112030107850014"


def only_rule(nik: object, sex: str | None = None) -> RuleViolation:
    found = nik_violations(nik, sex, today=TODAY)
    assert len(found) == 1, found
    return found[0]


def test_well_formed_niks_of_men_women_and_other_regions_pass():
    assert nik_violations(MAN, "L", today=TODAY) == []
    assert nik_violations(WOMAN, "P", today=TODAY) == []
    assert nik_violations(KUBU_RAYA, "L", today=TODAY) == []
    assert validate_nik(WOMAN, "P", today=TODAY) == WOMAN


def test_sex_and_birth_date_are_read_from_the_day_code():
    assert nik_sex(MAN) == "L"
    assert nik_sex(WOMAN) == "P"
    assert nik_birth_date(MAN, today=TODAY) == dt.date(1990, 9, 25)
    assert nik_birth_date(WOMAN, today=TODAY) == dt.date(1990, 9, 25)


def test_fifteen_digits_break_the_length_rule():
    violation = only_rule(MAN[:-1])
    assert violation.field == "nik"
    assert violation.rule == "must have 16 digits, has 15"


@pytest.mark.parametrize(
    "nik",
    [
        "61710125O9900001",  # letter O for zero
        "\uff16\uff11\uff17\uff11" + "012509900001",  # full-width digits: isdigit() accepts them
        "617101250990000-",
    ],
)
def test_anything_but_ascii_digits_breaks_the_digit_rule(nik: str):
    assert only_rule(nik).rule == "must contain only the ASCII digits 0-9"


def test_a_number_instead_of_text_is_refused():
    assert only_rule(6171012509900001).rule == "must be text of 16 digits"


@pytest.mark.parametrize("code", ["10", "20", "60", "99", "00"])
def test_a_region_code_of_no_province_is_refused(code: str):
    violation = only_rule(code + MAN[2:])
    assert violation.rule == f"province code {code} is not an Indonesian province"


def test_every_one_of_the_38_provinces_is_accepted():
    assert len(rules.PROVINCES) == 38
    for code in rules.PROVINCES:
        assert nik_violations(code + MAN[2:], today=TODAY) == []


@pytest.mark.parametrize("day", ["00", "32", "40", "72", "99"])
def test_day_codes_outside_1_31_and_41_71_are_refused(day: str):
    violation = only_rule(MAN[:6] + day + MAN[8:])
    assert violation.rule == f"day code {day} is not 01-31 or 41-71"


@pytest.mark.parametrize("month", ["00", "13", "25"])
def test_months_outside_1_12_are_refused(month: str):
    violation = only_rule(MAN[:8] + month + MAN[10:])
    assert violation.rule == f"month {month} is not 01-12"


@pytest.mark.parametrize(
    ("ddmmyy", "shown"),
    [
        ("310490", "31-04-1990"),  # April has 30 days
        ("710490", "31-04-1990"),  # the same for a woman (day + 40)
        ("290201", "29-02-2001"),  # not a leap year
        ("290226", "29-02-2026"),  # 26 is read as 2026 on 2026-11-28
    ],
)
def test_dates_that_do_not_exist_are_refused(ddmmyy: str, shown: str):
    violation = only_rule(MAN[:6] + ddmmyy + MAN[12:])
    assert violation.rule == f"birth date {shown} does not exist"


def test_leap_days_that_exist_pass():
    assert nik_violations(MAN[:6] + "290200" + MAN[12:], today=TODAY) == []  # 2000
    assert nik_violations(MAN[:6] + "290224" + MAN[12:], today=TODAY) == []  # 2024


def test_two_digit_year_takes_the_century_that_is_not_in_the_future():
    assert nik_birth_date(MAN[:6] + "271126" + MAN[12:], today=TODAY) == dt.date(2026, 11, 27)
    assert nik_birth_date(MAN[:6] + "281126" + MAN[12:], today=TODAY) == dt.date(2026, 11, 28)
    assert nik_birth_date(MAN[:6] + "291126" + MAN[12:], today=TODAY) == dt.date(1926, 11, 29)
    assert nik_birth_date(MAN[:6] + "010130" + MAN[12:], today=TODAY) == dt.date(1930, 1, 1)


def test_a_day_code_of_a_woman_on_a_record_of_a_man_is_a_sex_mismatch():
    violation = only_rule(WOMAN, "L")
    assert violation.field == "jenis_kelamin"
    assert violation.rule == "disagrees with the NIK's day code 65, which means P"
    assert only_rule(MAN, "P").rule == "disagrees with the NIK's day code 25, which means L"


def test_a_sex_other_than_l_or_p_is_refused():
    violation = only_rule(MAN, "X")
    assert (violation.field, violation.rule) == ("jenis_kelamin", "must be L or P")


def test_every_broken_rule_is_reported_not_just_the_first():
    found = nik_violations("10" + MAN[2:8] + "13" + MAN[10:], "P", today=TODAY)
    assert [v.rule for v in found] == [
        "province code 10 is not an Indonesian province",
        "month 13 is not 01-12",
        "disagrees with the NIK's day code 25, which means L",
    ]


def test_validate_raises_the_first_violation_with_field_rule_and_value():
    with pytest.raises(RuleViolation) as caught:
        validate_nik(MAN[:8] + "13" + MAN[10:], today=TODAY)
    assert caught.value.field == "nik"
    assert str(caught.value) == "field 'nik': month 13 is not 01-12 (got '6171012513900001')"


def test_sex_and_birth_date_of_an_invalid_nik_raise():
    with pytest.raises(RuleViolation):
        nik_sex(MAN[:-1])
    with pytest.raises(RuleViolation):
        nik_birth_date(MAN[:6] + "310490" + MAN[12:], today=TODAY)


# --- region codes ---


def test_pontianak_has_29_kelurahan_in_6_kecamatan():
    assert len(rules.kelurahan_codes()) == 29
    assert rules.kecamatan_codes() == tuple(f"61.71.0{k}" for k in range(1, 7))
    assert all(code.startswith("61.71.0") for code in rules.kelurahan_codes())


def test_kecamatan_of_a_kelurahan_comes_from_the_code_list():
    assert rules.kecamatan_of("61.71.01.1002") == "61.71.01"
    assert rules.kecamatan_of("61.71.06.1004") == "61.71.06"


@pytest.mark.parametrize("code", ["61.71.01.1001", "61.71.07.1001", "6171011002", None])
def test_codes_that_are_not_pontianak_kelurahan_are_refused(code: str | None):
    with pytest.raises(RuleViolation) as caught:
        rules.validate_kelurahan(code)
    assert caught.value.field == "kode_kelurahan"


def test_the_repo_copy_of_the_code_list_equals_the_shared_reference():
    shared = REPO_ROOT.parent / "shared" / "reference" / "wilayah_pontianak.csv"
    if not shared.exists():
        pytest.skip(f"{shared} is not beside this checkout")
    assert rules.WILAYAH_FILE.read_bytes() == shared.read_bytes()


# --- OPD ---


def test_opd_slugs_come_from_config_and_are_unique_short_slugs():
    slugs = rules.opd_slugs()
    assert len(slugs) == len(set(slugs)) >= 15
    assert {"disdukcapil", "dpmptsp", "bkad", "bappeda", "dinkes", "disdik"} <= set(slugs)
    assert all(slug.isascii() and slug.isalpha() and slug.islower() for slug in slugs)


def test_every_opd_the_bus_config_names_is_a_known_slug():
    config = load({})
    named = {spec["opd"] for spec in config.section("sources").values() if spec.get("opd")}
    named |= {topic.split(".")[1] for topic in config.topics if topic.startswith("opd.")}
    assert named <= set(rules.opd_slugs())


def test_opd_list_is_read_from_its_file(tmp_path: Path):
    listing = tmp_path / "opd.yaml"
    listing.write_text("opd:\n  - {slug: dishub, kode_urusan: '2.15', nama: Dinas Perhubungan}\n")
    assert [opd.slug for opd in rules.opds(listing)] == ["dishub"]
    with pytest.raises(RuleViolation):
        rules.validate_opd("dinas_tidak_ada")
