"""SIAK activity: births, people moving in, moves within and out of the city, deaths and name
corrections, written to the penduduk table as Disdukcapil's counter staff would."""

from __future__ import annotations

import datetime as dt
import random
from array import array
from typing import Any

import psycopg
from psycopg import sql

from opdbus.rules import PROVINCES, kelurahan_codes
from opdbus.simulator.clock import local_date
from opdbus.simulator.context import Context
from opdbus.simulator.draw import Weighted, lognormal
from opdbus.simulator.faults import NEW_CITIZEN
from opdbus.simulator.names import corrected
from opdbus.simulator.nik import NumberRegistry
from opdbus.simulator.population import COLUMNS, PONTIANAK, Citizen, Population, inject_fault
from opdbus.simulator.writer import Writer

SYSTEM, TABLE = "siak", "penduduk"
DAYS_PER_YEAR = 365.2425
NEW_CITIZENS = ("lahir", "datang")  # activities that insert rows; the others update
NEW_STATUS_FAULT = {"status_unknown": 1.0}
MOVE_FAULT = {"kelurahan_unknown": 1.0}
NAME_FAULT = {"missing_field": 1.0}

INSERT = (
    f"INSERT INTO penduduk ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
    "RETURNING nik"
).encode()
MOVE_HOUSEHOLD = (
    b"UPDATE penduduk SET kode_kelurahan = %s WHERE status = 'HIDUP' "
    b"AND no_kk = (SELECT no_kk FROM penduduk WHERE nik = %s) RETURNING nik"
)
MOVE_PERSON = (
    b"UPDATE penduduk SET kode_kelurahan = %s, no_kk = %s WHERE nik = %s AND status = 'HIDUP' "
    b"RETURNING nik"
)
LEAVE_HOUSEHOLD = (
    b"UPDATE penduduk SET status = %s WHERE status = 'HIDUP' "
    b"AND no_kk = (SELECT no_kk FROM penduduk WHERE nik = %s) RETURNING nik"
)
SET_STATUS = b"UPDATE penduduk SET status = %s WHERE nik = %s AND status = 'HIDUP' RETURNING nik"
SET_NAME = b"UPDATE penduduk SET nama = %s WHERE nik = %s RETURNING nik"
READ_NAME = b"SELECT nama FROM penduduk WHERE nik = %s AND status = 'HIDUP'"
# Every NIK and KK number, and for clean living residents what activities need of them.
# Only clean records act (give birth, apply for licences): a bad record's fault must not
# spread into rows the manifest does not know about. A NIK whose DDMMYY equals the one its
# birth date and sex imply has a valid day, month, date and sex.
LOAD = """
COPY (
    SELECT nik, coalesce(no_kk, ''),
        CASE WHEN status = 'HIDUP' AND jenis_kelamin IN ('L', 'P') AND no_kk IS NOT NULL
            AND kode_kelurahan = ANY({kelurahan}) AND nik ~ '^[0-9]{{16}}$'
            AND left(nik, 2) = ANY({provinces})
            AND substr(nik, 7, 6) = lpad((extract(day FROM tanggal_lahir)::int
                + CASE WHEN jenis_kelamin = 'P' THEN 40 ELSE 0 END)::text, 2, '0')
                || to_char(tanggal_lahir, 'MMYY')
        THEN jenis_kelamin || (tanggal_lahir - date '0001-01-01' + 1)
            || substr(kode_kelurahan, 7, 2)
        ELSE '' END
    FROM penduduk ORDER BY nik
) TO STDOUT
"""


class Residents:
    """Citizens living in the city (status HIDUP, a well-formed record), in compact arrays:
    the actors that births, moves, deaths and licence applications are drawn from."""

    def __init__(self) -> None:
        self.nik: list[str] = []
        self.female = bytearray()
        self.born = array("i")  # date ordinals
        self.kecamatan = bytearray()  # 1..6, of the domicile when loaded or last moved
        self.gone: set[str] = set()  # moved out or died during this run

    def add(self, nik: str, jenis_kelamin: str, born: dt.date, kecamatan: int) -> None:
        self.nik.append(nik)
        self.female.append(jenis_kelamin == "P")
        self.born.append(born.toordinal())
        self.kecamatan.append(kecamatan)

    def __len__(self) -> int:
        return len(self.nik)

    def pick(
        self,
        rng: random.Random,
        today: dt.date,
        ages: tuple[float, float] = (0, 200),
        female: bool | None = None,
        tries: int = 60,
    ) -> int | None:
        """Index of a random resident within `ages` (years) and of the given sex, or None."""
        if not self.nik:
            return None
        size, today_ordinal = len(self.nik), today.toordinal()
        oldest = today_ordinal - ages[1] * DAYS_PER_YEAR
        youngest = today_ordinal - ages[0] * DAYS_PER_YEAR
        for _ in range(tries):
            i = int(rng.random() * size)
            if female is not None and self.female[i] != female:
                continue
            if not oldest <= self.born[i] <= youngest or self.nik[i] in self.gone:
                continue
            return i
        return None

    @classmethod
    def load(
        cls, conn: psycopg.Connection[Any]
    ) -> tuple[Residents, NumberRegistry, NumberRegistry]:
        """Residents, plus registries holding every NIK and KK number already in the table."""
        residents, niks, kks = cls(), NumberRegistry(), NumberRegistry()
        query = sql.SQL(LOAD).format(
            kelurahan=sql.Literal(sorted(kelurahan_codes())),
            provinces=sql.Literal(sorted(PROVINCES)),
        )
        used_niks, used_kks = niks.used, kks.used
        with conn.cursor() as cursor, cursor.copy(query) as copy:
            tail = ""
            for chunk in copy:  # raw text blocks: 3x faster than parsing row by row
                lines = (tail + bytes(chunk).decode()).split("\n")
                tail = lines.pop()
                for line in lines:
                    nik, no_kk, actor = line.split("\t")
                    used_niks.add(nik)
                    if no_kk:
                        used_kks.add(no_kk)
                    if actor:  # sex, birth date ordinal, kecamatan
                        residents.nik.append(nik)
                        residents.female.append(actor[0] == "P")
                        residents.born.append(int(actor[1:-2]))
                        residents.kecamatan.append(int(actor[-2:]))
        return residents, niks, kks


class Siak:
    def __init__(
        self,
        ctx: Context,
        writer: Writer,
        residents: Residents,
        niks: NumberRegistry,
        kks: NumberRegistry,
    ) -> None:
        self.ctx = ctx
        self.writer = writer
        self.residents = residents
        self.niks = niks
        self.spec = ctx.settings["siak"]
        self.rng = ctx.rng(SYSTEM)
        self.faults = ctx.faults(SYSTEM)
        self.fault_rng = ctx.rng(SYSTEM, "fault-values")
        self.population = Population(
            ctx.settings, ctx.seed, local_date(ctx.start), niks, kks, purpose="siak-arrivals"
        )
        self.kks = kks
        self.arrival_size = Weighted(
            {int(k): w for k, w in self.spec["datang_household_size"].items()}
        )

    def handlers(self) -> dict[str, Any]:
        return {
            "lahir": self.lahir,
            "datang": self.datang,
            "pindah_dalam": self.pindah_dalam,
            "pindah_keluar": self.pindah_keluar,
            "meninggal": self.meninggal,
            "koreksi_nama": self.koreksi_nama,
        }

    # --- bookkeeping ---

    def _counted(self, activity: str, fault: str | None = None, column: str = "") -> Any:
        """Callback for RETURNING nik: count committed rows, list the bad ones."""

        def on_rows(rows: list[tuple[Any, ...]]) -> None:
            self.ctx.count(SYSTEM, TABLE, len(rows))
            if activity in NEW_CITIZENS:
                self.ctx.manifest.notes["siak.penduduk.inserted"] += len(rows)
            if fault:
                for (nik,) in rows:
                    self.ctx.bad(SYSTEM, TABLE, nik, fault, column, activity)

        return on_rows

    def _born(self, fault: str | None, column: str) -> Any:
        """Callback for a birth: a baby inherits a bad KK or kelurahan from the mother's row
        (an earlier fault), and is then tagged like any other bad record."""
        counted = self._counted("lahir", fault, column)
        kelurahan = kelurahan_codes()

        def on_rows(rows: list[tuple[Any, ...]]) -> None:
            counted([(nik,) for nik, _, _ in rows])
            for nik, no_kk, kode_kelurahan in rows:
                if fault:
                    continue
                if no_kk is None:
                    self.ctx.bad(SYSTEM, TABLE, nik, "missing_field", "no_kk", "lahir")
                elif kode_kelurahan not in kelurahan:
                    self.ctx.bad(SYSTEM, TABLE, nik, "kelurahan_unknown", "kode_kelurahan", "lahir")

        return on_rows

    def _insert(self, citizen: Citizen, activity: str) -> None:
        fault = self.faults.pick(NEW_CITIZEN)
        column = (
            inject_fault(citizen, fault, self.niks, self.faults, self.fault_rng) if fault else ""
        )
        self.writer.add(INSERT, citizen.row(), self._counted(activity, fault, column))
        if not fault:
            assert citizen.tanggal_lahir and citizen.jenis_kelamin and citizen.kode_kelurahan
            self.residents.add(
                citizen.nik,
                citizen.jenis_kelamin,
                citizen.tanggal_lahir,
                int(citizen.kode_kelurahan[6:8]),
            )

    def _anyone(self, at: dt.datetime, ages: tuple[float, float] = (0, 200)) -> str | None:
        i = self.residents.pick(self.rng, local_date(at), ages)
        return None if i is None else self.residents.nik[i]

    # --- activities ---

    def lahir(self, at: dt.datetime) -> None:
        """A birth registered some days after it happened, into the mother's KK and kelurahan."""
        rng, residents = self.rng, self.residents
        low, high = self.spec["mother_age"]
        mother = residents.pick(rng, local_date(at), (low, high), female=True)
        if mother is None:
            return
        lag = lognormal(
            rng,
            self.spec["registration_lag_days"]["median"],
            self.spec["registration_lag_days"]["sigma"],
        )
        born = local_date(at - dt.timedelta(days=max(1.0, lag)))
        sex = "L" if rng.random() < 0.51 else "P"
        region = f"{PONTIANAK}{residents.kecamatan[mother]:02d}"
        baby = Citizen(
            nik=self.niks.nik(region, born, sex),
            no_kk=None,
            nama=self.population.names.make(sex),
            tanggal_lahir=born,
            jenis_kelamin=sex,
            kode_kelurahan=None,
            status="HIDUP",
            region=region,
        )
        fault = self.faults.pick(NEW_CITIZEN)
        column = inject_fault(baby, fault, self.niks, self.faults, self.fault_rng) if fault else ""
        # KK and kelurahan come from the mother's row, unless the fault is in them.
        kk_sql = "NULL" if column == "no_kk" else "m.no_kk"
        kelurahan_sql = "m.kode_kelurahan"
        params: list[Any] = [baby.nik, baby.nama, baby.tanggal_lahir, baby.jenis_kelamin]
        if column == "kode_kelurahan":
            kelurahan_sql = "%s"
            params.append(baby.kode_kelurahan)  # unknown code, or None if missing
        params += [baby.status, residents.nik[mother]]
        statement = (
            f"INSERT INTO penduduk ({', '.join(COLUMNS)}) "
            f"SELECT %s, {kk_sql}, %s, %s, %s, {kelurahan_sql}, %s FROM penduduk m "
            "WHERE m.nik = %s AND m.status = 'HIDUP' RETURNING nik, no_kk, kode_kelurahan"
        ).encode()
        self.writer.add(statement, params, self._born(fault, column))
        if not fault:
            residents.add(baby.nik, sex, born, residents.kecamatan[mother])

    def datang(self, at: dt.datetime) -> None:
        """A person or family moves in from elsewhere and gets a Pontianak KK."""
        members = self.population.household(
            pontianak_share=self.spec["datang_pontianak_nik_share"],
            size=self.arrival_size.pick(self.rng),
            status="HIDUP",
            kk_issued=local_date(at),
        )
        for citizen in members:
            self._insert(citizen, "datang")

    def pindah_dalam(self, at: dt.datetime) -> None:
        """A household (or one member, who then gets a KK of their own) moves house."""
        rng = self.rng
        i = self.residents.pick(rng, local_date(at))
        if i is None:
            return
        nik = self.residents.nik[i]
        kelurahan = self.population.kelurahan()
        fault = self.faults.pick(MOVE_FAULT)
        if fault:
            kelurahan = self.faults.unknown_kelurahan()
        on_rows = self._counted("pindah_dalam", fault, "kode_kelurahan")
        if rng.random() < self.spec["household_move_share"]:
            self.writer.add(MOVE_HOUSEHOLD, (kelurahan, nik), on_rows)
        else:
            kecamatan = kelurahan[6:8] if not fault else self.population.kecamatan.pick(rng)
            new_kk = self.kks.kk(PONTIANAK + kecamatan, local_date(at))
            self.writer.add(MOVE_PERSON, (kelurahan, new_kk, nik), on_rows)
        if not fault:
            self.residents.kecamatan[i] = int(kelurahan[6:8])

    def pindah_keluar(self, at: dt.datetime) -> None:
        """Someone leaves the city (surat pindah): the record stays, status PINDAH."""
        nik = self._anyone(at)
        if nik is None:
            return
        fault = self.faults.pick(NEW_STATUS_FAULT)
        status = self.faults.unknown_status() if fault else "PINDAH"
        household = self.rng.random() < self.spec["household_move_share"]
        statement = LEAVE_HOUSEHOLD if household else SET_STATUS
        self.writer.add(statement, (status, nik), self._counted("pindah_keluar", fault, "status"))
        self.residents.gone.add(nik)

    def meninggal(self, at: dt.datetime) -> None:
        """A death registered; mostly among the elderly."""
        rng = self.rng
        elder = rng.random() < self.spec["elder_death_share"]
        i = self.residents.pick(
            rng, local_date(at), (self.spec["elder_age"], 200) if elder else (0, 200)
        )
        if i is None:
            return
        nik = self.residents.nik[i]
        fault = self.faults.pick(NEW_STATUS_FAULT)
        status = self.faults.unknown_status() if fault else "MENINGGAL"
        self.writer.add(SET_STATUS, (status, nik), self._counted("meninggal", fault, "status"))
        self.residents.gone.add(nik)

    def koreksi_nama(self, at: dt.datetime) -> None:
        """A citizen asks for a name correction (spelling, academic title)."""
        nik = self._anyone(at)
        if nik is None:
            return
        fault = self.faults.pick(NAME_FAULT)
        rows = self.writer.read(READ_NAME, (nik,))
        current = rows[0][0] if rows else None
        if current is None:
            self.ctx.manifest.notes["siak.koreksi_nama.skipped"] += 1
            return
        name = None if fault else corrected(current, self.rng)
        self.writer.add(SET_NAME, (name, nik), self._counted("koreksi_nama", fault, "nama"))
