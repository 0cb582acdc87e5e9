"""Licence workflows: only allowed transitions, realistic durations, office hours."""

from __future__ import annotations

import datetime as dt
import random
import statistics

import pytest

from opdbus.simulator import settings
from opdbus.simulator.clock import WIB, OfficeHours
from opdbus.simulator.perizinan import (
    ALLOWED,
    DIAJUKAN,
    DITOLAK,
    FINAL,
    KAJIAN_TEKNIS,
    TERBIT,
    Workflow,
    licence_types,
    officers,
)

SETTINGS = settings.load()
TYPES = licence_types(SETTINGS)
OFFICE = OfficeHours.from_settings(SETTINGS["office_hours"])
MONDAY_9 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=WIB).astimezone(dt.UTC)


def workflow(seed: int = 1) -> Workflow:
    rng = random.Random(seed)
    return Workflow(OFFICE, officers(rng, 10), ["Dokumen persyaratan tidak lengkap"], rng)


def runs(jenis: str, count: int = 2000) -> list[list]:
    flow = workflow()
    starts = [MONDAY_9 + dt.timedelta(hours=7 * i) for i in range(count)]
    return [(start, flow.plan(TYPES[jenis], DIAJUKAN, start)) for start in starts]


def days_to_decision(jenis: str) -> list[float]:
    return [(steps[-1].waktu - start).total_seconds() / 86400 for start, steps in runs(jenis)]


@pytest.mark.parametrize("jenis", sorted(TYPES))
def test_every_application_moves_only_along_allowed_edges_to_a_final_status(jenis: str):
    for start, steps in runs(jenis, 500):
        previous, at = DIAJUKAN, start
        for step in steps:
            assert step.status in ALLOWED[previous], (previous, step.status)
            assert step.waktu > at
            previous, at = step.status, step.waktu
        assert previous in FINAL


@pytest.mark.parametrize("jenis", sorted(TYPES))
def test_only_types_with_a_technical_review_enter_kajian_teknis(jenis: str):
    reviewed = any(s.status == KAJIAN_TEKNIS for _, steps in runs(jenis, 300) for s in steps)
    assert reviewed == TYPES[jenis].has_review


def test_staffed_steps_end_in_office_hours_and_carry_an_officer():
    for _, steps in runs("PBG", 500):
        for step in steps:
            assert OFFICE.is_open(step.waktu), step
            assert step.petugas and len(step.petugas) == 18 and step.petugas.isdigit()


def test_rejections_carry_a_reason_and_issues_none():
    for _, steps in runs("PBG", 1000):
        final = steps[-1]
        assert (final.catatan is not None) == (final.status == DITOLAK)


def test_pbg_is_decided_around_its_30_day_standard_with_a_tail():
    days = days_to_decision("PBG")
    within = sum(d <= 30 for d in days) / len(days)
    assert 15 < statistics.median(days) < 30
    assert 0.6 < within < 0.95  # most on time, a real share late
    assert max(days) > 45


def test_nib_through_oss_is_decided_within_hours_day_and_night():
    days = days_to_decision("NIB")
    assert sum(d < 1 for d in days) / len(days) > 0.95
    assert not TYPES["NIB"].staffed


def test_most_applications_are_issued_and_some_rejected():
    finals = [steps[-1].status for _, steps in runs("PBG", 3000)]
    rejected = finals.count(DITOLAK) / len(finals)
    assert 0.04 < rejected < 0.2
    assert finals.count(TERBIT) + finals.count(DITOLAK) == len(finals)


def test_an_open_application_continues_from_its_current_status():
    steps = workflow().plan(TYPES["PBG"], KAJIAN_TEKNIS, MONDAY_9)
    assert len(steps) == 1 and steps[0].status in FINAL


def test_the_same_seed_plans_the_same_workflow():
    first = workflow(5).plan(TYPES["PBG"], DIAJUKAN, MONDAY_9)
    again = workflow(5).plan(TYPES["PBG"], DIAJUKAN, MONDAY_9)
    assert first == again


def test_office_hours_push_a_friday_evening_to_monday_morning():
    friday_evening = dt.datetime(2026, 11, 27, 17, 0, tzinfo=WIB)
    monday = OFFICE.next_open(friday_evening).astimezone(WIB)
    assert (monday.weekday(), monday.hour, monday.minute) == (0, 7, 30)
    open_now = dt.datetime(2026, 11, 26, 10, 0, tzinfo=WIB)
    assert OFFICE.next_open(open_now) == open_now
