"""The simulated population: valid, consistent, unique, realistic in shape, and seeded."""

from __future__ import annotations

import collections
import datetime as dt
import random

import pytest

from opdbus import rules
from opdbus.simulator import settings
from opdbus.simulator.faults import Faults
from opdbus.simulator.nik import NIK_FAULTS, NumberRegistry
from opdbus.simulator.population import Citizen, Population, earliest_birth, inject_fault

AS_OF = dt.date(2026, 11, 28)
SETTINGS = settings.load()


def citizens(count: int, seed: int = 7) -> list[Citizen]:
    population = Population(SETTINGS, seed, AS_OF, NumberRegistry(), NumberRegistry())
    return list(population.citizens(count))


@pytest.fixture(scope="module")
def twenty_thousand() -> list[Citizen]:
    return citizens(20_000)


def test_exactly_the_requested_number_of_citizens_is_made(twenty_thousand):
    assert len(twenty_thousand) == 20_000


def test_every_generated_nik_passes_every_rule_with_the_records_sex(twenty_thousand):
    for c in twenty_thousand:
        assert rules.nik_violations(c.nik, c.jenis_kelamin, today=AS_OF) == [], c


def test_nik_birth_date_and_sex_agree_with_the_record(twenty_thousand):
    for c in twenty_thousand:
        assert rules.nik_birth_date(c.nik, today=AS_OF) == c.tanggal_lahir
        assert rules.nik_sex(c.nik) == c.jenis_kelamin


def test_niks_are_unique_and_serials_count_from_0001_per_region_and_date(twenty_thousand):
    niks = [c.nik for c in twenty_thousand]
    assert len(set(niks)) == len(niks)
    by_head = collections.defaultdict(list)
    for nik in niks:
        by_head[nik[:12]].append(int(nik[12:]))
    for serials in by_head.values():
        assert sorted(serials) == list(range(1, len(serials) + 1))


def test_most_niks_are_pontianaks_and_some_come_from_elsewhere(twenty_thousand):
    pontianak = sum(c.nik.startswith("6171") for c in twenty_thousand) / len(twenty_thousand)
    assert 0.8 < pontianak < 0.9
    pontianak_kecamatan = {c.nik[4:6] for c in twenty_thousand if c.nik.startswith("6171")}
    assert pontianak_kecamatan == {"01", "02", "03", "04", "05", "06"}


def test_domicile_is_a_real_kelurahan_and_independent_of_the_nik_prefix(twenty_thousand):
    codes = rules.kelurahan_codes()
    assert {c.kode_kelurahan for c in twenty_thousand} == codes  # every kelurahan is lived in
    elsewhere = [
        c
        for c in twenty_thousand
        if c.nik.startswith("6171") and c.nik[4:6] != c.kode_kelurahan[6:8]
    ]
    assert len(elsewhere) > len(twenty_thousand) * 0.1


def test_kk_groups_a_household_in_one_kelurahan(twenty_thousand):
    households = collections.defaultdict(list)
    for c in twenty_thousand:
        households[c.no_kk].append(c)
    sizes = [len(members) for members in households.values()]
    assert 3.0 < sum(sizes) / len(sizes) < 4.5
    for no_kk, members in households.items():
        assert len(no_kk) == 16 and no_kk.startswith("6171")
        assert len({m.kode_kelurahan for m in members}) == 1


def test_status_is_mostly_hidup_with_some_moved_and_deceased(twenty_thousand):
    status = collections.Counter(c.status for c in twenty_thousand)
    assert status["HIDUP"] / len(twenty_thousand) > 0.95
    assert status["PINDAH"] > 0 and status["MENINGGAL"] > 0


def test_ages_are_realistic_and_within_the_niks_century(twenty_thousand):
    oldest = earliest_birth(AS_OF, SETTINGS["population"]["max_age"])
    ages = [(AS_OF - c.tanggal_lahir).days / 365.25 for c in twenty_thousand]
    assert all(oldest <= c.tanggal_lahir <= AS_OF for c in twenty_thousand)
    children = sum(age < 15 for age in ages) / len(ages)
    elderly = sum(age >= 65 for age in ages) / len(ages)
    assert 0.15 < children < 0.35
    assert 0.02 < elderly < 0.12


def test_names_are_upper_case_indonesian_names(twenty_thousand):
    for c in twenty_thousand[:2000]:
        assert c.nama and c.nama == c.nama.upper()
    assert len({c.nama for c in twenty_thousand}) > 2000


def test_the_same_seed_gives_the_same_population_and_another_seed_another():
    assert citizens(3000, seed=11) == citizens(3000, seed=11)
    assert [c.nik for c in citizens(3000, seed=11)] != [c.nik for c in citizens(3000, seed=12)]


def test_a_registry_never_issues_a_number_already_in_use():
    taken = {"6171012509900001", "6171012509900002"}
    registry = NumberRegistry(taken)
    assert registry.nik("617101", dt.date(1990, 9, 25), "L") == "6171012509900003"


@pytest.mark.parametrize("kind", NIK_FAULTS)
def test_each_injected_nik_fault_breaks_its_rule(twenty_thousand, kind: str):
    rng = random.Random(kind)
    registry = NumberRegistry(c.nik for c in twenty_thousand)
    faults = Faults(1.0, rng)
    expected = {
        "nik_length": "must have 16 digits",
        "nik_not_digits": "must contain only the ASCII digits",
        "nik_month": "is not 01-12",
        "nik_date": "does not exist",
        "nik_sex_mismatch": "disagrees with the NIK's day code",
        "nik_province": "is not an Indonesian province",
    }[kind]
    for original in twenty_thousand[:300]:
        citizen = Citizen(**{f: getattr(original, f) for f in Citizen.__slots__})
        column = inject_fault(citizen, kind, registry, faults, rng)
        found = rules.nik_violations(citizen.nik, citizen.jenis_kelamin, today=AS_OF)
        assert [v.rule for v in found if expected in v.rule], (kind, citizen.nik, found)
        assert column == ("jenis_kelamin" if kind == "nik_sex_mismatch" else "nik")
        assert len(citizen.nik) <= 16  # it still fits the varchar(16) key


def test_missing_field_and_unknown_kelurahan_faults_make_the_record_invalid(twenty_thousand):
    rng = random.Random(3)
    faults = Faults(1.0, rng)
    registry = NumberRegistry()
    for original in twenty_thousand[:200]:
        missing = Citizen(**{f: getattr(original, f) for f in Citizen.__slots__})
        column = inject_fault(missing, "missing_field", registry, faults, rng)
        assert getattr(missing, column) is None
        moved = Citizen(**{f: getattr(original, f) for f in Citizen.__slots__})
        inject_fault(moved, "kelurahan_unknown", registry, faults, rng)
        assert moved.kode_kelurahan not in rules.kelurahan_codes()
