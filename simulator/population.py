"""Pontianak's population as SIAK holds it, generated household by household from a seed.

Each household (one KK) has a head, usually a spouse, children and sometimes an elderly
parent, all living in one kelurahan. A NIK's region is where the person was first
registered (mostly 6171 + a kecamatan, some elsewhere), independent of the domicile.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.copy import QueuedLibpqWriter

from opdbus.rules import kecamatan_of, kelurahan_codes
from opdbus.simulator.draw import Weighted, between, rng_for
from opdbus.simulator.faults import NEW_CITIZEN, Faults
from opdbus.simulator.manifest import BadRecord, Manifest
from opdbus.simulator.names import NameMaker, with_slip
from opdbus.simulator.nik import NumberRegistry

PONTIANAK = "6171"
DAYS_PER_YEAR = 365.2425
COLUMNS = ("nik", "no_kk", "nama", "tanggal_lahir", "jenis_kelamin", "kode_kelurahan", "status")
MISSABLE = ("no_kk", "nama", "tanggal_lahir", "jenis_kelamin", "kode_kelurahan", "status")


@dataclass(slots=True)
class Citizen:
    nik: str
    no_kk: str | None
    nama: str | None
    tanggal_lahir: dt.date | None
    jenis_kelamin: str | None
    kode_kelurahan: str | None
    status: str | None
    region: str  # NIK region (6 digits) of first registration, kept for fault injection

    def row(self) -> tuple[Any, ...]:
        return (
            self.nik,
            self.no_kk,
            self.nama,
            self.tanggal_lahir,
            self.jenis_kelamin,
            self.kode_kelurahan,
            self.status,
        )


def earliest_birth(as_of: dt.date, max_age: int) -> dt.date:
    """The first birth date a NIK can express unambiguously on `as_of` (rules' century pick)."""
    try:
        hundred = as_of.replace(year=as_of.year - 100)
    except ValueError:  # 29 February
        hundred = as_of.replace(year=as_of.year - 100, day=28)
    limit = hundred + dt.timedelta(days=1)
    try:
        oldest = as_of.replace(year=as_of.year - max_age - 1) + dt.timedelta(days=1)
    except ValueError:
        oldest = as_of.replace(year=as_of.year - max_age - 1, day=28) + dt.timedelta(days=1)
    return max(limit, oldest)


class Population:
    """Household generator for one seed. `niks` and `kks` keep every number unique."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        seed: int,
        as_of: dt.date,
        niks: NumberRegistry,
        kks: NumberRegistry,
        purpose: str = "population",
    ) -> None:
        spec = settings["population"]
        self.spec = spec
        self.household_spec = spec["household"]
        self.as_of = as_of
        self.rng = rng_for(seed, purpose)
        self.names = NameMaker(
            rng_for(seed, purpose, "names"), spec["name_styles"], spec["single_name_share"]
        )
        self.niks = niks
        self.kks = kks
        self.kecamatan = Weighted({str(k): w for k, w in spec["kecamatan_weights"].items()})
        self.other_regions = Weighted({str(k): w for k, w in spec["other_regions"].items()})
        self.children = Weighted({int(k): w for k, w in self.household_spec["children"].items()})
        self.kelurahan_by_kecamatan: dict[str, list[str]] = {}
        for kode in sorted(kelurahan_codes()):
            self.kelurahan_by_kecamatan.setdefault(kecamatan_of(kode)[-2:], []).append(kode)
        self.death_bands = sorted((float(a), float(s)) for a, s in spec["meninggal_share_by_age"])
        self._earliest = earliest_birth(as_of, int(spec["max_age"])).toordinal()
        self._as_of = as_of.toordinal()

    # --- single draws ---

    def birth_date(self, age: float) -> dt.date:
        ordinal = self._as_of - int(age * DAYS_PER_YEAR) - int(self.rng.random() * 365)
        return dt.date.fromordinal(min(self._as_of, max(self._earliest, ordinal)))

    def kelurahan(self, kecamatan: str | None = None) -> str:
        codes = self.kelurahan_by_kecamatan[kecamatan or self.kecamatan.pick(self.rng)]
        return codes[int(self.rng.random() * len(codes))]

    def nik_region(self, domicile_kecamatan: str, pontianak_share: float) -> str:
        rng = self.rng
        if rng.random() < pontianak_share:
            if rng.random() < self.spec["same_kecamatan_share"]:
                return PONTIANAK + domicile_kecamatan
            return PONTIANAK + self.kecamatan.pick(rng)
        cc = 1 + int(rng.random() * self.spec["max_kecamatan_elsewhere"])
        return f"{self.other_regions.pick(rng)}{cc:02d}"

    def status(self, age: float) -> str:
        rng = self.rng
        death_share = 0.0
        for from_age, share in self.death_bands:
            if age >= from_age:
                death_share = share
        draw = rng.random()
        if draw < death_share:
            return "MENINGGAL"
        if draw < death_share + self.spec["pindah_share"]:
            return "PINDAH"
        return "HIDUP"

    def person(
        self,
        age: float,
        jenis_kelamin: str,
        no_kk: str,
        kode_kelurahan: str,
        pontianak_share: float,
        status: str | None = None,
        name_style: str | None = None,
    ) -> Citizen:
        born = self.birth_date(age)
        region = self.nik_region(kode_kelurahan[6:8], pontianak_share)
        nama = self.names.make(jenis_kelamin, name_style)
        if self.rng.random() < self.spec["name_slip_share"]:
            nama = with_slip(nama, self.rng)
        return Citizen(
            nik=self.niks.nik(region, born, jenis_kelamin),
            no_kk=no_kk,
            nama=nama,
            tanggal_lahir=born,
            jenis_kelamin=jenis_kelamin,
            kode_kelurahan=kode_kelurahan,
            status=status or self.status(age),
            region=region,
        )

    # --- households ---

    def household(
        self,
        pontianak_share: float | None = None,
        size: int | None = None,
        status: str | None = None,
        kk_issued: dt.date | None = None,
    ) -> list[Citizen]:
        """One KK: its members in KK order (head first). `size` caps the members (people who
        move in often come alone); `status` forces every member's status; `kk_issued` is the
        date of the KK (default: some day since the head was 17)."""
        rng, spec = self.rng, self.household_spec
        share = self.spec["pontianak_nik_share"] if pontianak_share is None else pontianak_share
        kelurahan = self.kelurahan()
        low, high = spec["head_age"]
        head_age = rng.triangular(low, high, spec["head_age_mode"])
        female_head = rng.random() < spec["female_head_share"]
        head_sex = "P" if female_head else "L"
        kk_oldest = max(
            self._as_of - int(spec["kk_years_back"] * DAYS_PER_YEAR),
            self._as_of - int((head_age - 17) * DAYS_PER_YEAR),
        )
        issued = kk_issued or dt.date.fromordinal(
            rng.randint(min(kk_oldest, self._as_of), self._as_of)
        )
        no_kk = self.kks.kk(PONTIANAK + kelurahan[6:8], issued)

        ages: list[tuple[float, str]] = [(head_age, head_sex)]
        mother_age: float | None = head_age if female_head else None
        if not female_head and rng.random() < spec["spouse_share"]:
            spouse_age = max(17.0, head_age - between(rng, spec["spouse_age_gap"]))
            ages.append((spouse_age, "P"))
            mother_age = spouse_age
        parent_age = mother_age if mother_age is not None else head_age - 3
        for _ in range(self.children.pick(rng)):
            child_age = parent_age - between(rng, spec["mother_age_at_birth"])
            if child_age >= 0:
                ages.append((child_age, "L" if rng.random() < 0.51 else "P"))
        if rng.random() < spec["elder_share"]:
            elder_age = head_age + rng.uniform(20, 35)
            if elder_age < self.spec["max_age"]:
                ages.append((elder_age, "P" if rng.random() < 0.6 else "L"))
        if size is not None:
            ages = ages[:size]

        style = self.names.style()  # a family names its children in its own style
        members = []
        for age, sex in ages:
            # Children born here were registered in the kecamatan they live in.
            member_share = max(share, 0.9) if age < 17 else share
            members.append(self.person(age, sex, no_kk, kelurahan, member_share, status, style))
        return members

    def citizens(self, count: int) -> Iterator[Citizen]:
        """Exactly `count` citizens, household after household."""
        made = 0
        while made < count:
            for citizen in self.household():
                if made == count:
                    return
                made += 1
                yield citizen


def inject_fault(
    citizen: Citizen, kind: str, niks: NumberRegistry, faults: Faults, rng: random.Random
) -> str:
    """Turn a clean citizen into a realistic bad record; returns the field at fault."""
    if kind.startswith("nik_"):
        assert citizen.tanggal_lahir and citizen.jenis_kelamin
        citizen.nik = niks.faulty_nik(
            kind, citizen.region, citizen.tanggal_lahir, citizen.jenis_kelamin, rng
        )
        return "jenis_kelamin" if kind == "nik_sex_mismatch" else "nik"
    if kind == "kelurahan_unknown":
        citizen.kode_kelurahan = faults.unknown_kelurahan()
        return "kode_kelurahan"
    if kind == "missing_field":
        column = rng.choice(MISSABLE)
        setattr(citizen, column, None)
        return column
    raise ValueError(f"no such citizen fault {kind!r}")


# --- seeding SIAK ------------------------------------------------------------------------------

COPY_CHUNK = 20_000  # rows per write to the COPY stream, also the progress step


def _copy_line(citizen: Citizen) -> str:
    values = citizen.row()
    return "\t".join(r"\N" if v is None else str(v) for v in values) + "\n"


def seed_penduduk(
    conn: psycopg.Connection,
    settings: Mapping[str, Any],
    *,
    count: int,
    seed: int,
    as_of: dt.date,
    bad_share: float,
    manifest: Manifest,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """COPY `count` citizens into an empty penduduk table in one transaction; returns the
    number written, 0 when the table already has rows (a second setup adds nothing)."""
    niks, kks = NumberRegistry(), NumberRegistry()
    population = Population(settings, seed, as_of, niks, kks)
    faults = Faults(bad_share, rng_for(seed, "population", "faults"))
    fault_rng = rng_for(seed, "population", "fault-values")
    with conn.transaction():
        # Two concurrent setups: the second waits here, then sees the rows and adds nothing.
        conn.execute("LOCK TABLE penduduk IN SHARE ROW EXCLUSIVE MODE")
        if conn.execute("SELECT EXISTS (SELECT 1 FROM penduduk)").fetchone() != (False,):
            return 0
        written = 0
        cursor = conn.cursor()
        statement = f"COPY penduduk ({', '.join(COLUMNS)}) FROM STDIN".encode()
        # A writer thread sends while this one generates: the server parses on the other core.
        with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
            lines: list[str] = []
            for citizen in population.citizens(count):
                kind = faults.pick(NEW_CITIZEN)
                if kind:
                    column = inject_fault(citizen, kind, niks, faults, fault_rng)
                    manifest.add_bad(
                        BadRecord("siak", "penduduk", citizen.nik, kind, column, "setup")
                    )
                lines.append(_copy_line(citizen))
                if len(lines) == COPY_CHUNK:
                    copy.write("".join(lines))
                    written += len(lines)
                    lines.clear()
                    if progress and written < count:
                        progress(written, count)
            copy.write("".join(lines))
            written += len(lines)
    conn.execute("ANALYZE penduduk")
    if progress:
        progress(written, count)
    manifest.records["siak.penduduk"] += written
    return written
