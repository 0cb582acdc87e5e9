"""`opdbus simulate setup`: the OPD systems' tables and the state a demo starts from.

SIAK gets its population (COPY), licensing its recent past (applications of the last weeks,
the undecided ones still open), finance this year's budget with the payments made so far.
Each part is skipped when its tables already hold data, so a second setup adds nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opdbus.config import Config
from opdbus.simulator import schema
from opdbus.simulator.activity import perizinan_system
from opdbus.simulator.clock import WIB, local_date
from opdbus.simulator.context import Context
from opdbus.simulator.keuangan import Keuangan
from opdbus.simulator.manifest import Manifest
from opdbus.simulator.population import seed_penduduk
from opdbus.simulator.settings import Settings
from opdbus.simulator.siak import Residents
from opdbus.simulator.writer import Writer

Report = Callable[[str], None]


@dataclass
class SetupResult:
    manifest: Manifest
    penduduk: int = 0  # rows seeded (0: already there)
    penduduk_s: float = 0.0
    permohonan: int = 0
    sp2d: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def setup(
    config: Config,
    settings: Settings,
    *,
    citizens: int,
    seed: int,
    bad_share: float,
    as_of: dt.datetime | None = None,
    history_days: int | None = None,
    report: Report | None = None,
    seed_progress: Callable[[int, int], None] | None = None,
) -> SetupResult:
    say = report or (lambda line: None)
    as_of = as_of or dt.datetime.now(dt.UTC).replace(microsecond=0)
    days = settings["perizinan"]["history_days"] if history_days is None else history_days
    ctx = Context.create(settings, seed, bad_share, as_of)
    result = SetupResult(ctx.manifest)

    for system in schema.SYSTEMS:
        with schema.connect(config, system) as conn:
            schema.create_tables(conn, system)
    say(f"tables ready in {', '.join(schema.database_of(config, s) for s in schema.SYSTEMS)}")

    with schema.connect(config, "siak") as conn:
        began = time.monotonic()
        result.penduduk = seed_penduduk(
            conn,
            settings,
            count=citizens,
            seed=seed,
            as_of=local_date(as_of),
            bad_share=bad_share,
            manifest=ctx.manifest,
            progress=seed_progress,
        )
        result.penduduk_s = time.monotonic() - began
        (existing,) = conn.execute(b"SELECT count(*) FROM penduduk").fetchone() or (0,)
    if result.penduduk:
        say(f"penduduk: {result.penduduk:,} citizens seeded in {result.penduduk_s:.1f} s")
    else:
        say(
            f"penduduk: already seeded ({existing:,} rows), left as it is "
            f"(an empty SIAK database, e.g. a new state directory, gets {citizens:,})"
        )

    with schema.connect(config, "perizinan", autocommit=True) as conn:
        writer = Writer(conn)
        (existing,) = writer.read(b"SELECT EXISTS (SELECT 1 FROM permohonan)")[0]
        if existing:
            say("permohonan: already has applications, left as it is")
        elif days > 0:
            began = time.monotonic()
            with schema.connect(config, "siak", autocommit=True) as siak:
                residents, niks, kks = Residents.load(siak)
            history_ctx = Context.create(settings, seed, bad_share, as_of - dt.timedelta(days=days))
            history_ctx.manifest = ctx.manifest
            perizinan = perizinan_system(history_ctx, writer, residents, niks, kks)
            first = local_date(as_of - dt.timedelta(days=days))
            result.permohonan = perizinan.history(first, as_of)
            writer.flush()
            result.timings["permohonan_s"] = time.monotonic() - began
            say(f"permohonan: {result.permohonan:,} applications of the last {days} days")

    with schema.connect(config, "keuangan", autocommit=True) as conn:
        writer = Writer(conn)
        began = time.monotonic()
        keuangan = Keuangan(ctx, writer)
        result.sp2d = keuangan.history(as_of)
        writer.flush()
        result.timings["keuangan_s"] = time.monotonic() - began
        tahun = as_of.astimezone(WIB).year
        if result.sp2d or ctx.manifest.records["keuangan.anggaran"]:
            say(
                f"keuangan: APBD {tahun} ({ctx.manifest.records['keuangan.anggaran']} activities), "
                f"{result.sp2d:,} SP2D up to {local_date(as_of)}"
            )
        else:
            say(f"keuangan: APBD {tahun} already there, left as it is")
    ctx.manifest.info.update(
        as_of=as_of.astimezone(WIB).isoformat(),
        citizens=citizens,
        bad_share=bad_share,
        penduduk=result.penduduk,
        permohonan=result.permohonan,
        sp2d=result.sp2d,
    )
    return result
