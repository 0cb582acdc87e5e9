"""The activity loop: simulated time from the activity index, due work first, seeded mix."""

from __future__ import annotations

import datetime as dt
import random

from opdbus.simulator.clock import Timeline
from opdbus.simulator.engine import Engine, Scheduler

START = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def engine(log: list, scheduler: Scheduler | None = None, seed: int = 3) -> Engine:
    handlers = {kind: (lambda at, k=kind: log.append((k, at))) for kind in ("lahir", "permohonan")}
    return Engine(
        Timeline(START, rate=100, speed=3600),
        scheduler or Scheduler(),
        {"lahir": 3, "permohonan": 1, "not_enabled": 5},
        handlers,
        writers=[],
        rng=random.Random(seed),
    )


def test_simulated_time_advances_speed_seconds_per_rate_activities():
    timeline = Timeline(START, rate=200, speed=3600)
    assert timeline.at(200) == START + dt.timedelta(hours=1)
    assert timeline.real_seconds(200) == 1.0


def test_the_mix_is_followed_and_disabled_kinds_never_run():
    log: list = []
    progress = engine(log).run(4000, pace=False)
    kinds = [kind for kind, _ in log]
    assert progress.index == 4000 and len(kinds) == 4000
    assert 0.7 < kinds.count("lahir") / 4000 < 0.8
    assert "not_enabled" not in kinds


def test_the_same_seed_gives_the_same_activities_at_the_same_simulated_times():
    first: list = []
    again: list = []
    engine(first, seed=9).run(500, pace=False)
    engine(again, seed=9).run(500, pace=False)
    assert first == again


def test_due_calendar_work_runs_before_spontaneous_activity_at_its_own_time():
    log: list = []
    scheduler = Scheduler()
    due = START + dt.timedelta(minutes=30)
    scheduler.at(due, "transisi", lambda at: log.append(("transisi", at)))
    scheduler.at(START + dt.timedelta(days=9), "later", lambda at: log.append(("later", at)))
    progress = engine(log, scheduler).run(100, pace=False)  # 100 activities = 1 simulated hour
    assert ("transisi", due) in log
    assert log.index(("transisi", due)) == 50  # the first slot at or after 30 minutes
    assert all(kind != "later" for kind, _ in log)
    assert progress.per_kind["transisi"] == 1
    assert len(scheduler) == 1


def test_scheduler_keeps_insertion_order_for_equal_times():
    scheduler = Scheduler()
    order: list = []
    for name in "abc":
        scheduler.at(START, name, lambda at, n=name: order.append(n))
    while (item := scheduler.pop_due(START)) is not None:
        item[2](item[0])
    assert order == ["a", "b", "c"]


def test_a_paced_run_stops_at_its_deadline():
    log: list = []
    progress = engine(log).run(10_000, pace=True, deadline_s=0.3)
    assert 10 <= progress.index <= 60  # 100/s for 0.3 s, whatever the machine's speed
