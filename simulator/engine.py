"""The activity loop: calendar-due work first, then spontaneous activities from the mix, paced
to the wall clock, flushed as one transaction per database per tick."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from opdbus.simulator.clock import Timeline
from opdbus.simulator.draw import Weighted
from opdbus.simulator.writer import Writer

Action = Callable[[dt.datetime], None]


class Scheduler:
    """Work due at a simulated time (licence steps, SP2D payments, month openings)."""

    def __init__(self) -> None:
        self._heap: list[tuple[dt.datetime, int, str, Action]] = []
        self._order = itertools.count()  # ties keep insertion order: deterministic

    def at(self, due: dt.datetime, kind: str, action: Action) -> None:
        heapq.heappush(self._heap, (due, next(self._order), kind, action))

    def pop_due(self, now: dt.datetime) -> tuple[dt.datetime, str, Action] | None:
        if self._heap and self._heap[0][0] <= now:
            due, _, kind, action = heapq.heappop(self._heap)
            return due, kind, action
        return None

    def __len__(self) -> int:
        return len(self._heap)


@dataclass
class Progress:
    """What the loop reports every second and at the end."""

    index: int = 0
    elapsed_s: float = 0.0
    sim_now: dt.datetime | None = None
    behind: bool = False
    interrupted: bool = False
    per_kind: dict[str, int] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        timeline: Timeline,
        scheduler: Scheduler,
        mix: Mapping[str, float],
        handlers: Mapping[str, Action],
        writers: list[Writer],
        rng: random.Random,
        tick_s: float = 0.1,
        max_batch: int = 2000,
    ) -> None:
        active = {kind: w for kind, w in mix.items() if w > 0 and kind in handlers}
        self.timeline = timeline
        self.scheduler = scheduler
        self.mix = Weighted(active) if active else None
        self.handlers = handlers
        self.writers = writers
        self.rng = rng
        self.tick_s = tick_s
        self.max_batch = max_batch

    def step(self, index: int, progress: Progress) -> None:
        """Activity number `index`: the earliest due calendar work, else a spontaneous one."""
        now = self.timeline.at(index)
        due = self.scheduler.pop_due(now)
        if due is not None:
            when, kind, action = due
            action(when)
        elif self.mix is not None:
            kind = self.mix.pick(self.rng)
            self.handlers[kind](now)
        else:
            kind = "idle"
        progress.per_kind[kind] = progress.per_kind.get(kind, 0) + 1
        progress.sim_now = now

    def flush(self) -> None:
        for writer in self.writers:
            writer.flush()

    def run(
        self,
        count: int,
        *,
        pace: bool = True,
        deadline_s: float | None = None,
        report: Callable[[Progress], None] | None = None,
        report_every_s: float = 1.0,
    ) -> Progress:
        """Run activities 0..count-1 (or until `deadline_s` of wall time). Paced: activity n is
        not started before n / rate seconds; when behind, batches grow up to max_batch."""
        progress = Progress()
        started = time.monotonic()
        next_report = report_every_s
        index = 0
        try:
            while index < count:
                elapsed = time.monotonic() - started
                if deadline_s is not None and elapsed >= deadline_s:
                    break
                due = count if not pace else min(count, int(elapsed * self.timeline.rate) + 1)
                if due <= index:
                    time.sleep(min(self.tick_s, self.timeline.real_seconds(index) - elapsed))
                    continue
                progress.behind = pace and due - index > self.max_batch
                end = min(due, index + self.max_batch)
                while index < end:
                    self.step(index, progress)
                    index += 1
                self.flush()
                progress.index = index
                progress.elapsed_s = time.monotonic() - started
                if report and progress.elapsed_s >= next_report:
                    report(progress)
                    next_report = progress.elapsed_s + report_every_s
        except KeyboardInterrupt:
            progress.interrupted = True
        # What was generated is committed, so the manifest tells the truth.
        self.flush()
        progress.index = index
        progress.elapsed_s = time.monotonic() - started
        return progress
