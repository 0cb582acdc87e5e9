"""The simulated clock and the office calendar of Pontianak's OPDs.

Simulated time is a function of the activity index (start + n / rate * speed), never of the
wall clock, so a seed gives the same activities and timestamps on a fast or a slow machine;
only the pacing follows the wall clock.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

# Pontianak keeps Western Indonesia Time all year (no daylight saving).
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
UTC = dt.UTC


@dataclass(frozen=True)
class OfficeHours:
    """Staffed work happens Monday to Friday between these WIB times (no holidays modelled)."""

    opens: dt.time = dt.time(7, 30)
    closes: dt.time = dt.time(16, 0)

    @classmethod
    def from_settings(cls, spec: dict[str, str]) -> OfficeHours:
        return cls(dt.time.fromisoformat(spec["opens"]), dt.time.fromisoformat(spec["closes"]))

    def is_open(self, at: dt.datetime) -> bool:
        local = at.astimezone(WIB)
        return local.weekday() < 5 and self.opens <= local.time() < self.closes

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """`at` if the office is open then, else the next opening time (in UTC)."""
        local = at.astimezone(WIB)
        if self.is_open(local):
            return at
        day = local.date()
        if local.time() >= self.closes or local.weekday() >= 5:
            day += dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, self.opens, WIB).astimezone(UTC)

    def random_time_on(self, rng: random.Random, day: dt.date) -> dt.datetime:
        """A moment within office hours of `day` (UTC)."""
        opens = dt.datetime.combine(day, self.opens, WIB)
        span = (dt.datetime.combine(day, self.closes, WIB) - opens).total_seconds()
        return (opens + dt.timedelta(seconds=rng.uniform(0, span))).astimezone(UTC)


def working_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Monday-Friday dates in [first, last]."""
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def local_date(at: dt.datetime) -> dt.date:
    return at.astimezone(WIB).date()


@dataclass(frozen=True)
class Timeline:
    """Maps the activity index to simulated time: `rate` activities per real second, and
    `speed` simulated seconds per real second."""

    start: dt.datetime
    rate: float
    speed: float

    def at(self, index: int) -> dt.datetime:
        return self.start + dt.timedelta(seconds=index * self.speed / self.rate)

    def real_seconds(self, index: int) -> float:
        """When activity `index` is due on the wall clock, counted from the start of the run."""
        return index / self.rate
