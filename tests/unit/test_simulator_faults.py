"""Injected bad records: the configured share, every kind, and values that are truly wrong."""

from __future__ import annotations

import collections
import random

import pytest

from opdbus import rules
from opdbus.simulator import faults as faults_module
from opdbus.simulator.faults import NEW_CITIZEN, UNKNOWN_KELURAHAN, UNKNOWN_STATUS, Faults
from opdbus.simulator.nik import UNKNOWN_PROVINCES


@pytest.mark.parametrize("share", [0.01, 0.05, 0.2])
def test_the_share_of_bad_records_is_the_configured_one(share: float):
    faults = Faults(share, random.Random(4))
    draws = 100_000
    bad = sum(faults.pick(NEW_CITIZEN) is not None for _ in range(draws))
    assert abs(bad / draws - share) < 4 * (share * (1 - share) / draws) ** 0.5


def test_a_share_of_zero_injects_nothing():
    faults = Faults(0.0, random.Random(4))
    assert all(faults.pick(NEW_CITIZEN) is None for _ in range(10_000))


def test_every_kind_of_fault_occurs():
    faults = Faults(1.0, random.Random(4))
    kinds = collections.Counter(faults.pick(NEW_CITIZEN) for _ in range(5_000))
    assert set(kinds) == set(NEW_CITIZEN)


def test_a_share_outside_0_to_1_is_refused():
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        Faults(1.5, random.Random())


def test_unknown_kelurahan_codes_are_unknown_and_fit_the_column():
    for code in UNKNOWN_KELURAHAN:
        assert code not in rules.kelurahan_codes()
        assert len(code) <= 13


def test_unknown_provinces_and_statuses_are_not_valid_values():
    assert not set(UNKNOWN_PROVINCES) & set(rules.PROVINCES)
    assert len(UNKNOWN_PROVINCES) == 100 - 38
    assert not set(UNKNOWN_STATUS) & {"HIDUP", "PINDAH", "MENINGGAL"}


def test_fault_kinds_for_files_and_json_cover_missing_and_mistyped_values():
    assert set(faults_module.FILE_ROW) == {"missing_field", "wrong_type"}
    assert set(faults_module.JSON_ITEM) == {"missing_field", "wrong_type"}
