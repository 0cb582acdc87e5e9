"""BKAD finance: each budget year's ceilings (anggaran) per OPD, program and activity with a
12-month cash plan, SP2D payments that follow the plan through the year (absorption ending
around 93-96%), and the occasional APBD-P revision."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from opdbus.rules import Opd, opds
from opdbus.simulator.clock import WIB, OfficeHours, local_date, working_days
from opdbus.simulator.context import Context
from opdbus.simulator.draw import Weighted, between, int_between, lognormal, rng_for
from opdbus.simulator.writer import Writer

SYSTEM = "keuangan"
CENT = Decimal("0.01")
ANGGARAN_MISSABLE = ("kode_program", "kode_kegiatan", "nama_kegiatan", "pagu", "rencana_kas")
REALISASI_MISSABLE = ("nomor_sp2d", "tanggal_sp2d", "kode_opd", "kode_kegiatan", "nilai", "uraian")
MISSING = {"missing_field": 1.0}
GENERIC_KEGIATAN = (
    "Pelayanan",
    "Pembinaan dan Pengawasan",
    "Pengembangan",
    "Pengelolaan Data dan Informasi",
    "Koordinasi dan Sinkronisasi",
)

INSERT_ANGGARAN = (
    b"INSERT INTO anggaran (id, tahun, kode_opd, kode_program, kode_kegiatan, nama_kegiatan, "
    b"pagu, rencana_kas) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
UPDATE_ANGGARAN = b"UPDATE anggaran SET pagu = %s, rencana_kas = %s WHERE id = %s"
INSERT_REALISASI = (
    b"INSERT INTO realisasi (id, nomor_sp2d, tanggal_sp2d, kode_opd, kode_kegiatan, nilai, "
    b"uraian) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


@dataclass
class Kegiatan:
    """One anggaran row as the simulator tracks it."""

    id: int
    tahun: int
    kode_opd: str
    kode_program: str
    kode_kegiatan: str
    nama_kegiatan: str
    pagu: Decimal
    rencana_kas: list[Decimal]
    absorption: float  # share of each month's plan this activity actually spends
    paid: Decimal = field(default=Decimal(0))

    def planned_until(self, month: int) -> Decimal:
        """Cumulative plan for January..month."""
        return sum(self.rencana_kas[:month], Decimal(0))


def spread(
    total: Decimal, weights: Sequence[float], step: Decimal = Decimal(1000)
) -> list[Decimal]:
    """`total` split by `weights` into multiples of `step`; the last part takes the rest, so
    the parts always add up to `total` exactly."""
    weight_sum = sum(weights) or 1.0
    parts = [
        (total * Decimal(w / weight_sum) / step).to_integral_value() * step for w in weights[:-1]
    ]
    parts.append(total - sum(parts, Decimal(0)))
    return [part.quantize(CENT) for part in parts]


def absorption_of(seed: int, tahun: int, kode_opd: str, kode_kegiatan: str, bounds: Any) -> float:
    return between(rng_for(seed, "serapan", tahun, kode_opd, kode_kegiatan), bounds)


def plan_budget(settings: Mapping[str, Any], seed: int, tahun: int) -> list[dict[str, Any]]:
    """The APBD of `tahun`: one row per OPD activity, with pagu and a 12-month cash plan."""
    spec = settings["keuangan"]
    shares = [float(s) for s in spec["rencana_kas_shares"]]
    rows = []
    for opd in opds():
        rng = rng_for(seed, "anggaran", tahun, opd.slug)
        for kode_program, kegiatan in _programs(spec, opd, rng):
            for kode_kegiatan, nama in kegiatan:
                pagu = Decimal(
                    round(lognormal(rng, spec["pagu"]["median"], spec["pagu"]["sigma"]), -3)
                ).quantize(CENT)
                jitter = spec["rencana_kas_jitter"]
                weights = [s * rng.uniform(1 - jitter, 1 + jitter) for s in shares]
                rows.append(
                    {
                        "tahun": tahun,
                        "kode_opd": opd.slug,
                        "kode_program": kode_program,
                        "kode_kegiatan": kode_kegiatan,
                        "nama_kegiatan": nama,
                        "pagu": pagu,
                        "rencana_kas": spread(pagu, weights),
                    }
                )
    return rows


def _programs(
    spec: Mapping[str, Any], opd: Opd, rng: random.Random
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Program codes with their activities: the common support program X.XX.01, then the
    OPD's technical programs X.XX.02..."""
    support = spec["support_program"]["kegiatan"]
    programs = [
        (
            f"{opd.kode_urusan}.01",
            [(f"{opd.kode_urusan}.01.2.{k:02d}", name) for k, name in enumerate(support, 1)],
        )
    ]
    named = list(spec["kegiatan"].get(opd.slug, []))
    bidang = opd.nama.removeprefix("Dinas ").removeprefix("Badan ").split(" (")[0]
    for p in range(2, 2 + int_between(rng, spec["programs_per_opd"])):
        kode_program = f"{opd.kode_urusan}.{p:02d}"
        kegiatan = []
        for k in range(1, 1 + int_between(rng, spec["kegiatan_per_program"])):
            name = named.pop(0) if named else f"{rng.choice(GENERIC_KEGIATAN)} Bidang {bidang}"
            kegiatan.append((f"{kode_program}.2.{k:02d}", name))
        programs.append((kode_program, kegiatan))
    return programs


def month_payments(
    kegiatan: Kegiatan,
    month: int,
    first_day: dt.date,
    spec: Mapping[str, Any],
    rng: random.Random,
) -> list[tuple[dt.date, Decimal]]:
    """The SP2D payments of one activity for one month, from `first_day`: what the plan says
    should have been spent by the month's end (times the absorption), minus what was paid."""
    due = (kegiatan.planned_until(month) * Decimal(kegiatan.absorption)).quantize(CENT)
    amount = due - kegiatan.paid
    if amount < 1000:
        return []
    last_day = dt.date(kegiatan.tahun, month, calendar.monthrange(kegiatan.tahun, month)[1])
    days = working_days(max(first_day, dt.date(kegiatan.tahun, month, 1)), last_day)
    if not days:
        return []
    count = min(len(days), int_between(rng, spec["payments_per_month"]))
    parts = spread(amount, [rng.uniform(0.3, 1.0) for _ in range(count)], Decimal(1))
    return list(zip(sorted(rng.sample(days, count)), parts, strict=True))


class Keuangan:
    def __init__(self, ctx: Context, writer: Writer) -> None:
        self.ctx = ctx
        self.writer = writer
        self.spec = ctx.settings["keuangan"]
        self.rng = ctx.rng(SYSTEM)
        self.faults = ctx.faults(SYSTEM)
        self.fault_rng = ctx.rng(SYSTEM, "fault-values")
        self.sp2d_jenis = Weighted(self.spec["sp2d_jenis"])
        self.kegiatan: dict[int, list[Kegiatan]] = {}  # per year

    def handlers(self) -> dict[str, Any]:
        return {"revisi_anggaran": self.revisi_anggaran}

    def _count(self, table: str) -> None:
        self.writer.after_commit(lambda: self.ctx.count(SYSTEM, table))

    def _bad(self, table: str, key: int, kind: str, column: str, activity: str) -> None:
        self.writer.after_commit(lambda: self.ctx.bad(SYSTEM, table, key, kind, column, activity))

    # --- the budget year ---

    def open_year(self, tahun: int) -> list[Kegiatan]:
        """Insert the APBD of `tahun` (the simulator's own plan) and track it."""
        spec = self.spec
        tracked = []
        for row in plan_budget(self.ctx.settings, self.ctx.seed, tahun):
            row_id = self.writer.next_id("anggaran", "id")
            values = dict(row)
            fault = self.faults.pick(MISSING)
            if fault:
                column = self.fault_rng.choice(ANGGARAN_MISSABLE)
                values[column] = None
                self._bad("anggaran", row_id, fault, column, "anggaran")
            self.writer.add(
                INSERT_ANGGARAN,
                (
                    row_id,
                    tahun,
                    values["kode_opd"],
                    values["kode_program"],
                    values["kode_kegiatan"],
                    values["nama_kegiatan"],
                    values["pagu"],
                    values["rencana_kas"],
                ),
            )
            self._count("anggaran")
            tracked.append(
                Kegiatan(
                    id=row_id,
                    absorption=absorption_of(
                        self.ctx.seed,
                        tahun,
                        row["kode_opd"],
                        row["kode_kegiatan"],
                        spec["absorption"],
                    ),
                    **row,
                )
            )
        self.kegiatan[tahun] = tracked
        return tracked

    def load_year(self, tahun: int) -> list[Kegiatan]:
        """The year's budget as the finance system holds it, and what each activity has paid."""
        rows = self.writer.read(
            b"SELECT id, kode_opd, kode_program, kode_kegiatan, nama_kegiatan, pagu, rencana_kas "
            b"FROM anggaran WHERE tahun = %s AND kode_opd IS NOT NULL AND kode_kegiatan "
            b"IS NOT NULL AND pagu IS NOT NULL AND cardinality(rencana_kas) = 12 ORDER BY id",
            (tahun,),
        )
        paid = dict(
            ((opd, kode), total)
            for opd, kode, total in self.writer.read(
                b"SELECT kode_opd, kode_kegiatan, sum(nilai) FROM realisasi "
                b"WHERE tanggal_sp2d BETWEEN %s AND %s AND nilai IS NOT NULL GROUP BY 1, 2",
                (dt.date(tahun, 1, 1), dt.date(tahun, 12, 31)),
            )
        )
        tracked = [
            Kegiatan(
                id=row_id,
                tahun=tahun,
                kode_opd=opd,
                kode_program=program,
                kode_kegiatan=kode,
                nama_kegiatan=nama or kode,
                pagu=pagu,
                rencana_kas=list(plan),
                absorption=absorption_of(self.ctx.seed, tahun, opd, kode, self.spec["absorption"]),
                paid=paid.get((opd, kode), Decimal(0)),
            )
            for row_id, opd, program, kode, nama, pagu, plan in rows
        ]
        self.kegiatan[tahun] = tracked
        return tracked

    # --- payments ---

    def pay(self, kegiatan: Kegiatan, tanggal: dt.date, nilai: Decimal) -> None:
        """One SP2D: the treasury pays part of an activity's budget."""
        row_id = self.writer.next_id("realisasi", "id")
        jenis = self.sp2d_jenis.pick(self.rng)
        uraian = self.rng.choice(self.spec["sp2d_uraian"][jenis])
        values: dict[str, Any] = {
            "nomor_sp2d": f"{row_id:06d}/SP2D-{jenis}/BKAD/{kegiatan.tahun}",
            "tanggal_sp2d": tanggal,
            "kode_opd": kegiatan.kode_opd,
            "kode_kegiatan": kegiatan.kode_kegiatan,
            "nilai": nilai,
            "uraian": f"{uraian} kegiatan {kegiatan.nama_kegiatan}",
        }
        fault = self.faults.pick(MISSING)
        if fault:
            column = self.fault_rng.choice(REALISASI_MISSABLE)
            values[column] = None
            self._bad("realisasi", row_id, fault, column, "sp2d")
        self.writer.add(INSERT_REALISASI, (row_id, *values.values()))
        self._count("realisasi")
        if values["nilai"] is not None:
            kegiatan.paid += nilai

    def plan_month(
        self, tahun: int, month: int, first_day: dt.date
    ) -> list[tuple[dt.datetime, Kegiatan, dt.date, Decimal]]:
        """Every payment of the month from `first_day`, with the moment it is made."""
        office: OfficeHours = self.ctx.office
        rng = self.rng
        payments = []
        for kegiatan in self.kegiatan.get(tahun, []):
            for tanggal, nilai in month_payments(kegiatan, month, first_day, self.spec, rng):
                payments.append((office.random_time_on(rng, tanggal), kegiatan, tanggal, nilai))
        payments.sort(key=lambda p: (p[0], p[1].id))
        return payments

    def schedule_month(self, tahun: int, month: int, first_day: dt.date) -> None:
        for at, kegiatan, tanggal, nilai in self.plan_month(tahun, month, first_day):
            self.ctx.scheduler.at(
                at, "sp2d", lambda _when, k=kegiatan, d=tanggal, n=nilai: self.pay(k, d, n)
            )

    def schedule_from(self, start: dt.datetime) -> None:
        """Payments for the rest of the current month now; each later month is planned when it
        opens (so an APBD-P revision changes the months after it); the next APBD on 2 January."""
        today = local_date(start)
        tahun = today.year
        self.schedule_month(tahun, today.month, today)
        for month in range(today.month + 1, 13):
            opens = dt.datetime(tahun, month, 1, tzinfo=WIB).astimezone(dt.UTC)
            self.ctx.scheduler.at(
                opens,
                "buka_bulan",
                lambda when, m=month: self.schedule_month(tahun, m, local_date(when)),
            )
        new_year = dt.datetime(tahun + 1, 1, 2, 7, 30, tzinfo=WIB).astimezone(dt.UTC)
        self.ctx.scheduler.at(new_year, "anggaran", self._new_year)

    def _new_year(self, when: dt.datetime) -> None:
        self.open_year(local_date(when).year)
        self.schedule_from(when)

    def start(self, start: dt.datetime) -> None:
        """At the start of a run: the current year's budget (created if the finance system has
        none yet), then its payments."""
        tahun = local_date(start).year
        if not self.load_year(tahun):
            self.open_year(tahun)
        self.schedule_from(start)

    # --- past work, for `simulate setup` ---

    def history(self, until: dt.datetime) -> int:
        """The year's budget and every payment due before `until`; returns payments made."""
        today = local_date(until)
        tahun = today.year
        if self.load_year(tahun):
            return 0  # the finance system already has this year
        self.open_year(tahun)
        made = 0
        for month in range(1, today.month + 1):
            for at, kegiatan, tanggal, nilai in self.plan_month(
                tahun, month, dt.date(tahun, month, 1)
            ):
                if at < until:
                    self.pay(kegiatan, tanggal, nilai)
                    made += 1
            self.writer.flush()
        return made

    # --- revisions ---

    def revisi_anggaran(self, at: dt.datetime) -> None:
        """APBD-P: one activity's ceiling changes; the months still ahead absorb the change."""
        today = local_date(at)
        kegiatan_list = self.kegiatan.get(today.year)
        if not kegiatan_list:
            return
        kegiatan = self.rng.choice(kegiatan_list)
        change = Decimal(between(self.rng, self.spec["revision_change"]))
        new_pagu = ((kegiatan.pagu * (1 + change)) / 1000).to_integral_value() * 1000
        fixed = kegiatan.planned_until(today.month - 1)  # months already past keep their plan
        ahead = kegiatan.rencana_kas[today.month - 1 :]
        new_pagu = max(new_pagu, fixed, kegiatan.paid).quantize(CENT)
        remaining = new_pagu - fixed
        weights = [float(x) for x in ahead] if sum(ahead) > 0 else [1.0] * len(ahead)
        kegiatan.rencana_kas = kegiatan.rencana_kas[: today.month - 1] + spread(remaining, weights)
        kegiatan.pagu = new_pagu
        values: list[Any] = [new_pagu, list(kegiatan.rencana_kas), kegiatan.id]
        fault = self.faults.pick(MISSING)
        if fault:
            values[1] = None  # an import that lost the cash plan column
            self._bad("anggaran", kegiatan.id, fault, "rencana_kas", "revisi_anggaran")
        self.writer.add(UPDATE_ANGGARAN, values)
        self._count("anggaran")
