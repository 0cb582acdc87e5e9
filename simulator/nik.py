"""NIK and KK numbers as Dukcapil issues them, and the ways clerks get a NIK wrong.

NIK: PP KK CC DDMMYY NNNN (region of first registration, birth date with day + 40 for women,
serial from 0001 per region and date). KK: the issuing kecamatan, the issue date, a serial.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable

from opdbus.rules import FEMALE_DAY_OFFSET, PROVINCES

# Bad NIK kinds the simulator injects; each breaks exactly one rule of opdbus.rules.
NIK_FAULTS = (
    "nik_length",  # a digit dropped while typing
    "nik_not_digits",  # letter O typed for zero
    "nik_month",  # the day typed in the month field, or month 00
    "nik_date",  # a date that does not exist (31 April)
    "nik_sex_mismatch",  # the +40 for women forgotten (or added for a man)
    "nik_province",  # a region code no province has
)
UNKNOWN_PROVINCES = tuple(f"{p:02d}" for p in range(100) if f"{p:02d}" not in PROVINCES)


def date_code(born: dt.date, jenis_kelamin: str) -> str:
    day = born.day + FEMALE_DAY_OFFSET if jenis_kelamin == "P" else born.day
    return f"{day:02d}{born.month:02d}{born.year % 100:02d}"


class NumberRegistry:
    """Issues unique 16-digit numbers `<12-digit head><4-digit serial>`, serials from 0001,
    skipping every number already in use (rows of earlier runs included)."""

    def __init__(self, used: Iterable[str] = ()) -> None:
        self.used: set[str] = set(used)
        self._next: dict[str, int] = {}

    def issue(self, head: str) -> str:
        serial = self._next.get(head, 1)
        number = f"{head}{serial:04d}"
        while number in self.used:
            serial += 1
            number = f"{head}{serial:04d}"
        if serial > 9999:
            raise ValueError(
                f"all 9,999 serials of {head[:6]} for {head[6:8]}-{head[8:10]}-{head[10:12]} "
                "are used: too many numbers for one region and day (raise --clock-speed)"
            )
        self._next[head] = serial + 1
        self.used.add(number)
        return number

    def nik(self, region: str, born: dt.date, jenis_kelamin: str) -> str:
        """region: 6 digits, province + regency/city + kecamatan of first registration."""
        return self.issue(region + date_code(born, jenis_kelamin))

    def kk(self, region: str, issued: dt.date) -> str:
        return self.issue(f"{region}{issued:%d%m%y}")

    def faulty_nik(
        self, fault: str, region: str, born: dt.date, jenis_kelamin: str, rng: random.Random
    ) -> str:
        """A NIK with one clerical fault, unique among used numbers (it becomes a key). It is
        typed from the number the clerk was given, so each try uses a fresh serial."""
        for _ in range(100):
            if fault == "nik_sex_mismatch":  # well formed: issued like any number
                return self.nik(region, born, "L" if jenis_kelamin == "P" else "P")
            given = self.nik(region, born, jenis_kelamin)
            nik = _with_fault(fault, given, jenis_kelamin, rng)
            if nik not in self.used:
                self.used.add(nik)
                return nik
        raise ValueError(f"could not make a unique {fault} NIK")


def _with_fault(fault: str, valid: str, jenis_kelamin: str, rng: random.Random) -> str:
    """`valid` with one clerical fault."""
    if fault == "nik_length":
        cut = rng.randrange(16)
        return valid[:cut] + valid[cut + 1 :]
    if fault == "nik_not_digits":
        zeros = [i for i, c in enumerate(valid) if c == "0"] or [15]
        i = rng.choice(zeros)
        return valid[:i] + "O" + valid[i + 1 :]
    if fault == "nik_month":
        day = int(valid[6:8])
        month = day - FEMALE_DAY_OFFSET if day > 31 else day
        bad_month = month if month > 12 else 0  # the day typed in the month field, or 00
        return f"{valid[:8]}{bad_month:02d}{valid[10:]}"
    if fault == "nik_date":
        day, month = rng.choice(((31, 4), (31, 6), (31, 9), (31, 11), (30, 2), (31, 2)))
        day += FEMALE_DAY_OFFSET if jenis_kelamin == "P" else 0
        return f"{valid[:6]}{day:02d}{month:02d}{valid[10:]}"
    if fault == "nik_province":
        return rng.choice(UNKNOWN_PROVINCES) + valid[2:]
    raise ValueError(f"unknown NIK fault {fault!r}")
