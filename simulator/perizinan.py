"""DPMPTSP licensing: applications (PBG, NIB, ...) that move through their statuses with
realistic, per-type durations, each transition also a riwayat_status row."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opdbus.simulator.clock import WIB, OfficeHours, local_date
from opdbus.simulator.context import Context
from opdbus.simulator.draw import Weighted, lognormal, poisson
from opdbus.simulator.faults import APPLICANT, UNKNOWN_KELURAHAN
from opdbus.simulator.nik import NumberRegistry
from opdbus.simulator.writer import Writer

SYSTEM = "perizinan"
DIAJUKAN, DIVERIFIKASI, KAJIAN_TEKNIS, TERBIT, DITOLAK = (
    "DIAJUKAN",
    "DIVERIFIKASI",
    "KAJIAN_TEKNIS",
    "TERBIT",
    "DITOLAK",
)
FINAL = frozenset({TERBIT, DITOLAK})
# The edges of the licensing workflow; nothing else ever happens to an application.
ALLOWED: Mapping[str | None, frozenset[str]] = {
    None: frozenset({DIAJUKAN}),
    DIAJUKAN: frozenset({DIVERIFIKASI, DITOLAK}),
    DIVERIFIKASI: frozenset({KAJIAN_TEKNIS, TERBIT, DITOLAK}),
    KAJIAN_TEKNIS: frozenset({TERBIT, DITOLAK}),
    TERBIT: frozenset(),
    DITOLAK: frozenset(),
}
TRANSITION_FAULT = {"missing_field": 1.0}
PERMOHONAN_MISSABLE = (
    "nomor_permohonan",
    "jenis_izin",
    "nik_pemohon",
    "kode_kelurahan",
    "tanggal_pengajuan",
)

INSERT_PERMOHONAN = (
    b"INSERT INTO permohonan (id_permohonan, nomor_permohonan, jenis_izin, nik_pemohon, "
    b"kode_kelurahan, status, tanggal_pengajuan, tanggal_keputusan, kanal) "
    b"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_RIWAYAT = (
    b"INSERT INTO riwayat_status (id, id_permohonan, status, waktu, petugas, catatan) "
    b"VALUES (%s, %s, %s, %s, %s, %s)"
)
UPDATE_STATUS = (
    b"UPDATE permohonan SET status = %s, tanggal_keputusan = %s WHERE id_permohonan = %s"
)


@dataclass(frozen=True)
class LicenceType:
    """One licence type's workflow: channels, staffing, rejection shares, step durations."""

    jenis: str
    weight: float
    per_day: float
    kanal: Weighted[str]
    standard_days: float
    staffed: bool
    reject_at_verifikasi: float
    reject_at_keputusan: float
    days: Mapping[str, tuple[float, float]]  # step -> (median days, sigma)

    @classmethod
    def from_settings(cls, jenis: str, spec: Mapping[str, Any]) -> LicenceType:
        return cls(
            jenis=jenis,
            weight=float(spec["weight"]),
            per_day=float(spec["per_day"]),
            kanal=Weighted(spec["kanal"]),
            standard_days=float(spec["standard_days"]),
            staffed=bool(spec["staffed"]),
            reject_at_verifikasi=float(spec["reject_at_verifikasi"]),
            reject_at_keputusan=float(spec["reject_at_keputusan"]),
            days={step: (float(m), float(s)) for step, (m, s) in spec["days"].items()},
        )

    @property
    def has_review(self) -> bool:
        return "kajian" in self.days


def licence_types(settings: Mapping[str, Any]) -> dict[str, LicenceType]:
    jenis = settings["perizinan"]["jenis"]
    return {name: LicenceType.from_settings(name, spec) for name, spec in jenis.items()}


@dataclass(frozen=True)
class Step:
    status: str
    waktu: dt.datetime
    petugas: str | None
    catatan: str | None


class Workflow:
    """Plans the steps of an application from a status onwards (pure: no database)."""

    def __init__(
        self, office: OfficeHours, officers: list[str], reasons: list[str], rng: random.Random
    ):
        self.office = office
        self.officers = officers
        self.reasons = reasons
        self.rng = rng

    def _after(self, licence: LicenceType, step: str, since: dt.datetime) -> dt.datetime:
        median, sigma = licence.days[step]
        done = since + dt.timedelta(days=lognormal(self.rng, median, sigma))
        # Officers finish a step at their desk, in office hours; OSS runs day and night.
        return self.office.next_open(done) if licence.staffed else done

    def _officer(self, licence: LicenceType) -> str | None:
        return self.rng.choice(self.officers) if licence.staffed else None

    def plan(self, licence: LicenceType, status: str, since: dt.datetime) -> list[Step]:
        """The steps that follow `status` (entered at `since`) until a final status."""
        rng, steps = self.rng, []
        t = since
        if status == DIAJUKAN:
            t = self._after(licence, "verifikasi", t)
            if rng.random() < licence.reject_at_verifikasi:
                return [Step(DITOLAK, t, self._officer(licence), rng.choice(self.reasons))]
            steps.append(Step(DIVERIFIKASI, t, self._officer(licence), None))
            status = DIVERIFIKASI
        if status == DIVERIFIKASI and licence.has_review:
            t = self._after(licence, "kajian", t)
            steps.append(Step(KAJIAN_TEKNIS, t, self._officer(licence), None))
            status = KAJIAN_TEKNIS
        if status in (DIVERIFIKASI, KAJIAN_TEKNIS):
            t = self._after(licence, "keputusan", t)
            if rng.random() < licence.reject_at_keputusan:
                steps.append(Step(DITOLAK, t, self._officer(licence), rng.choice(self.reasons)))
            else:
                steps.append(Step(TERBIT, t, self._officer(licence), None))
        return steps


def officers(rng: random.Random, count: int) -> list[str]:
    """NIP of the licensing staff: birth date, appointment month, sex digit, serial."""
    staff = []
    for serial in range(1, count + 1):
        born = dt.date(rng.randint(1968, 1996), rng.randint(1, 12), rng.randint(1, 28))
        appointed = born.year + rng.randint(23, 30)
        staff.append(
            f"{born:%Y%m%d}{appointed}{rng.randint(1, 12):02d}{rng.randint(1, 2)}{serial:03d}"
        )
    return staff


@dataclass
class Application:
    id: int
    licence: LicenceType
    bad: bool


class Perizinan:
    def __init__(
        self,
        ctx: Context,
        writer: Writer,
        applicant: Callable[[dt.datetime], str | None],
        kelurahan: Callable[[], str],
        niks: NumberRegistry,
    ) -> None:
        self.ctx = ctx
        self.writer = writer
        self.applicant = applicant
        self.kelurahan = kelurahan
        self.niks = niks
        spec = ctx.settings["perizinan"]
        self.spec = spec
        self.types = licence_types(ctx.settings)
        self.type_mix = Weighted({name: t.weight for name, t in self.types.items()})
        self.rng = ctx.rng(SYSTEM)
        self.faults = ctx.faults(SYSTEM)
        self.fault_rng = ctx.rng(SYSTEM, "fault-values")
        self.workflow = Workflow(
            ctx.office,
            officers(ctx.rng(SYSTEM, "officers"), int(spec["officers"])),
            list(spec["catatan_tolak"]),
            ctx.rng(SYSTEM, "workflow"),
        )

    def handlers(self) -> dict[str, Any]:
        return {"permohonan": self.permohonan}

    # --- bookkeeping: into the manifest once committed ---

    def _count(self, table: str) -> None:
        self.writer.after_commit(lambda: self.ctx.count(SYSTEM, table))

    def _bad(self, table: str, key: int, kind: str, column: str, activity: str) -> None:
        self.writer.after_commit(lambda: self.ctx.bad(SYSTEM, table, key, kind, column, activity))

    def _kanal(self, licence: LicenceType, at: dt.datetime) -> str | None:
        if self.rng.random() < self.spec["kanal_null_share"]:
            return None
        kanal = licence.kanal.pick(self.rng)
        if kanal == "LOKET" and not self.ctx.office.is_open(at):
            online = [k for k in licence.kanal.items if k != "LOKET"]
            kanal = online[0] if online else kanal
        return kanal

    def _nik_fault(self, kind: str, at: dt.datetime) -> str:
        born = local_date(at) - dt.timedelta(days=self.fault_rng.randint(18 * 365, 70 * 365))
        sex = self.fault_rng.choice("LP")
        region = f"6171{self.fault_rng.randint(1, 6):02d}"
        return self.niks.faulty_nik(kind, region, born, sex, self.fault_rng)

    # --- activities ---

    def submit(self, licence: LicenceType, at: dt.datetime, applicant: str) -> Application:
        """Insert the application (DIAJUKAN) and its first history row; schedule the rest."""
        writer = self.writer
        app_id = writer.next_id("permohonan", "id_permohonan")
        row: dict[str, Any] = {
            "nomor_permohonan": f"503/{app_id:07d}/{licence.jenis}/DPMPTSP/{local_date(at).year}",
            "jenis_izin": licence.jenis,
            "nik_pemohon": applicant,
            "kode_kelurahan": self.kelurahan(),
            "tanggal_pengajuan": at,
        }
        kanal = self._kanal(licence, at)
        fault = self.faults.pick(APPLICANT)
        column = ""
        if fault and fault.startswith("nik_"):
            row["nik_pemohon"] = self._nik_fault(fault, at)
            column = "nik_pemohon"
        elif fault == "kelurahan_unknown":
            row["kode_kelurahan"] = self.fault_rng.choice(UNKNOWN_KELURAHAN)
            column = "kode_kelurahan"
        elif fault == "missing_field":
            column = self.fault_rng.choice(PERMOHONAN_MISSABLE)
            row[column] = None
        writer.add(
            INSERT_PERMOHONAN,
            (
                app_id,
                row["nomor_permohonan"],
                row["jenis_izin"],
                row["nik_pemohon"],
                row["kode_kelurahan"],
                DIAJUKAN,
                row["tanggal_pengajuan"],
                None,
                kanal,
            ),
        )
        self._count("permohonan")
        if fault:
            self._bad("permohonan", app_id, fault, column, "permohonan")
        self._history(app_id, Step(DIAJUKAN, at, None, None), "permohonan")
        application = Application(app_id, licence, bad=bool(fault))
        self.schedule(application, self.workflow.plan(licence, DIAJUKAN, at))
        return application

    def _history(self, app_id: int, step: Step, activity: str) -> None:
        history_id = self.writer.next_id("riwayat_status", "id")
        waktu: dt.datetime | None = step.waktu
        fault = self.faults.pick(TRANSITION_FAULT) if activity == "transisi" else None
        if fault:
            waktu = None  # the client sent no time: a required column left empty
            self._bad("riwayat_status", history_id, fault, "waktu", activity)
        self.writer.add(
            INSERT_RIWAYAT, (history_id, app_id, step.status, waktu, step.petugas, step.catatan)
        )
        self._count("riwayat_status")

    def transition(self, application: Application, step: Step) -> None:
        decided = step.waktu if step.status in FINAL else None
        self.writer.add(UPDATE_STATUS, (step.status, decided, application.id))
        self._count("permohonan")
        self._history(application.id, step, "transisi")

    def schedule(self, application: Application, steps: list[Step]) -> None:
        for step in steps:
            self.ctx.scheduler.at(
                step.waktu,
                "transisi",
                lambda _when, a=application, s=step: self.transition(a, s),
            )

    def permohonan(self, at: dt.datetime) -> None:
        licence = self.types[self.type_mix.pick(self.rng)]
        applicant = self.applicant(at)
        if applicant is None:
            return
        self.submit(licence, at, applicant)

    # --- after a restart ---

    def resume(self) -> int:
        """Schedule the remaining steps of every open application (from an earlier run or the
        setup's history): each continues from its last transition."""
        rows = self.writer.read(
            b"SELECT p.id_permohonan, p.jenis_izin, p.status, max(r.waktu) "
            b"FROM permohonan p JOIN riwayat_status r USING (id_permohonan) "
            b"WHERE p.status IN ('DIAJUKAN', 'DIVERIFIKASI', 'KAJIAN_TEKNIS') "
            b"GROUP BY 1, 2, 3 ORDER BY 1"
        )
        resumed = 0
        for app_id, jenis, status, since in rows:
            licence = self.types.get(jenis)
            if licence is None or since is None:
                continue  # a type no longer configured, or history without times: left alone
            application = Application(app_id, licence, bad=False)
            self.schedule(application, self.workflow.plan(licence, status, since))
            resumed += 1
        return resumed

    # --- past work, for `simulate setup` ---

    def history(self, first: dt.date, until: dt.datetime) -> int:
        """Applications submitted from `first` until `until`, with every step due by then
        applied; later steps stay open (a run resumes them). Returns applications made."""
        rng, office, made = self.rng, self.ctx.office, 0
        scheduler = self.ctx.scheduler
        day = first
        while day <= local_date(until):
            submissions = []
            for licence in self.types.values():
                # Staffed counters are closed at weekends: only online submissions then.
                mean = licence.per_day * (0.3 if licence.staffed and day.weekday() >= 5 else 1)
                for _ in range(poisson(rng, mean)):
                    if licence.staffed and rng.random() < 0.7 and day.weekday() < 5:
                        at = office.random_time_on(rng, day)
                    else:
                        at = dt.datetime.combine(day, dt.time(), WIB).astimezone(dt.UTC)
                        at += dt.timedelta(seconds=rng.uniform(0, 86400))
                    submissions.append((at, licence.jenis))
            for at, jenis in sorted(submissions):
                if at > until:
                    continue
                while (due := scheduler.pop_due(at)) is not None:
                    due[2](due[0])
                applicant = self.applicant(at)
                if applicant is not None:
                    self.submit(self.types[jenis], at, applicant)
                    made += 1
            day += dt.timedelta(days=1)
        while (due := scheduler.pop_due(until)) is not None:
            due[2](due[0])
        return made
