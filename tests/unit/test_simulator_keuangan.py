"""The BKAD budget year: ceilings and cash plans add up, payments follow the plan, and a year
ends with absorption in Pontianak's 93-96% range."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from opdbus.rules import opds
from opdbus.simulator import settings
from opdbus.simulator.keuangan import Kegiatan, absorption_of, month_payments, plan_budget, spread

SETTINGS = settings.load()
SPEC = SETTINGS["keuangan"]


def budget(seed: int = 7, tahun: int = 2026) -> list[Kegiatan]:
    return [
        Kegiatan(
            id=i,
            absorption=absorption_of(
                seed, tahun, row["kode_opd"], row["kode_kegiatan"], SPEC["absorption"]
            ),
            **row,
        )
        for i, row in enumerate(plan_budget(SETTINGS, seed, tahun), 1)
    ]


def pay_the_year(kegiatan: list[Kegiatan]) -> list[tuple[Kegiatan, dt.date, Decimal]]:
    rng = random.Random(1)
    payments = []
    for month in range(1, 13):
        for k in kegiatan:
            for day, amount in month_payments(k, month, dt.date(k.tahun, month, 1), SPEC, rng):
                k.paid += amount
                payments.append((k, day, amount))
    return payments


def test_each_activity_has_12_monthly_amounts_that_add_up_to_its_ceiling():
    for row in plan_budget(SETTINGS, 7, 2026):
        assert len(row["rencana_kas"]) == 12
        assert sum(row["rencana_kas"]) == row["pagu"]
        assert all(amount >= 0 for amount in row["rencana_kas"])
        assert row["pagu"] % 1000 == 0


def test_every_opd_has_the_support_program_and_codes_follow_its_urusan():
    rows = plan_budget(SETTINGS, 7, 2026)
    for opd in opds():
        own = [r for r in rows if r["kode_opd"] == opd.slug]
        assert any(r["kode_program"] == f"{opd.kode_urusan}.01" for r in own)
        for r in own:
            assert r["kode_kegiatan"].startswith(r["kode_program"] + ".2.")
    keys = [(r["kode_opd"], r["kode_kegiatan"]) for r in rows]
    assert len(keys) == len(set(keys))


def test_the_budget_of_a_year_is_the_same_for_the_same_seed():
    assert plan_budget(SETTINGS, 7, 2026) == plan_budget(SETTINGS, 7, 2026)
    assert plan_budget(SETTINGS, 7, 2026) != plan_budget(SETTINGS, 8, 2026)


def test_a_years_payments_end_in_the_93_to_96_percent_absorption_range():
    kegiatan = budget()
    pay_the_year(kegiatan)
    absorption = sum(k.paid for k in kegiatan) / sum(k.pagu for k in kegiatan)
    assert Decimal("0.93") <= absorption <= Decimal("0.96")
    assert all(k.paid <= k.pagu for k in kegiatan)


def test_payments_fall_on_working_days_and_never_run_ahead_of_the_cash_plan():
    kegiatan = budget()
    payments = pay_the_year(kegiatan)
    assert all(day.weekday() < 5 for _, day, _ in payments)
    for k in kegiatan:
        paid_by_month = Decimal(0)
        for month in range(1, 13):
            paid_by_month += sum(a for kk, day, a in payments if kk is k and day.month == month)
            assert paid_by_month <= k.planned_until(month)


def test_december_is_the_busiest_month_as_in_real_budget_years():
    payments = pay_the_year(budget())
    per_month = [sum(a for _, day, a in payments if day.month == m) for m in range(1, 13)]
    assert per_month.index(max(per_month)) == 11
    assert per_month[0] < per_month[11] / 4


def test_a_late_start_catches_up_with_the_plan_in_the_first_month():
    k = budget()[0]
    payments = month_payments(k, 6, dt.date(2026, 6, 15), SPEC, random.Random(2))
    assert all(day >= dt.date(2026, 6, 15) for day, _ in payments)
    expected = (k.planned_until(6) * Decimal(k.absorption)).quantize(Decimal("0.01"))
    assert sum(amount for _, amount in payments) == expected


def test_spread_splits_an_amount_exactly():
    parts = spread(Decimal("1000000.00"), [0.2, 0.3, 0.5])
    assert sum(parts) == Decimal("1000000.00")
    assert parts[:2] == [Decimal("200000.00"), Decimal("300000.00")]
