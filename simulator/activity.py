"""`opdbus simulate run`: every simulated OPD system at once, from a seed, at a chosen rate.

SIAK, licensing and finance write to their databases; Bappeda drops files; e-SAKIP pushes
over HTTP. Calendar work (licence steps, SP2D payments) comes when due on the simulated clock;
the rest of the rate is drawn from the configured mix.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from opdbus.config import Config
from opdbus.simulator import schema
from opdbus.simulator.bappeda import Bappeda
from opdbus.simulator.clock import WIB, Timeline, local_date
from opdbus.simulator.context import Context
from opdbus.simulator.engine import Engine, Progress
from opdbus.simulator.esakip import Esakip, load_tokens
from opdbus.simulator.keuangan import Keuangan
from opdbus.simulator.manifest import Manifest
from opdbus.simulator.perizinan import Perizinan
from opdbus.simulator.population import Population
from opdbus.simulator.settings import Settings
from opdbus.simulator.siak import Residents, Siak
from opdbus.simulator.writer import Writer

SYSTEMS = ("siak", "perizinan", "keuangan", "bappeda", "esakip")


@dataclass
class RunOptions:
    rate: float = 200.0  # activities per real second
    duration_s: float = 60.0  # wall-clock length of the run
    seed: int = 7
    bad_share: float = 0.01
    clock_speed: float = 3600.0  # simulated seconds per real second
    start: dt.datetime | None = None  # simulated start; None: now, or where the data ends
    activities: int | None = None  # exactly this many activities (ignores duration_s)
    pace: bool = True  # False: as fast as possible (the timeline is unchanged)
    systems: frozenset[str] = field(default_factory=lambda: frozenset(SYSTEMS))
    drop_dir: Path | None = None
    esakip_url: str | None = None
    tokens_file: Path | None = None


def drop_directory(config: Config, settings: Settings) -> Path:
    configured = settings["bappeda"].get("directory") or config.section("sources").get(
        "perencanaan", {}
    ).get("directory")
    return Path(configured) if configured else config.state_dir / "drop" / "bappeda"


def esakip_url(config: Config, settings: Settings) -> str:
    if settings["esakip"].get("url"):
        return str(settings["esakip"]["url"])
    source = config.section("sources").get("esakip", {})
    return f"http://{source.get('host', '127.0.0.1')}:{source.get('port', 8088)}/v1/kinerja"


def tokens_path(config: Config, settings: Settings) -> Path:
    configured = settings["esakip"].get("tokens_file")
    return Path(configured) if configured else config.state_dir / "secrets" / "esakip-tokens.yaml"


def latest_simulated_time(writers: dict[str, Writer]) -> dt.datetime | None:
    """Where earlier runs left the simulated clock, read from the data itself."""
    found: list[dt.datetime] = []
    if "perizinan" in writers:
        (latest,) = writers["perizinan"].read(
            b"SELECT greatest((SELECT max(waktu) FROM riwayat_status), "
            b"(SELECT max(tanggal_pengajuan) FROM permohonan))"
        )[0]
        if latest:
            found.append(latest)
    if "keuangan" in writers:
        (day,) = writers["keuangan"].read(b"SELECT max(tanggal_sp2d) FROM realisasi")[0]
        if day:
            found.append(dt.datetime.combine(day, dt.time(16), WIB))
    return max(found) if found else None


@contextmanager
def writers_for(config: Config, systems: frozenset[str]) -> Iterator[dict[str, Writer]]:
    databases = {"siak", "perizinan", "keuangan"} & systems
    if "perizinan" in systems:
        databases.add("siak")  # applicants come from the population register
    with ExitStack() as stack:
        writers = {}
        for system in sorted(databases):
            conn: psycopg.Connection[Any] = stack.enter_context(
                schema.connect(config, system, autocommit=True)
            )
            writers[system] = Writer(conn)
        yield writers


def run(
    config: Config,
    settings: Settings,
    options: RunOptions,
    report: Callable[[Progress, Manifest], None] | None = None,
) -> Manifest:
    unknown = options.systems - set(SYSTEMS)
    if unknown:
        raise ValueError(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    if options.rate <= 0 or options.clock_speed <= 0:
        raise ValueError("rate and clock speed must be positive")
    per_day = options.rate * 86400 / options.clock_speed
    limit = float(settings["activity"]["max_per_simulated_day"])
    if per_day > limit:
        raise ValueError(
            f"{per_day:,.0f} activities per simulated day would exhaust the NIK and KK serials "
            f"of a day; raise --clock-speed to at least {options.rate * 86400 / limit:,.0f}"
        )
    with writers_for(config, options.systems) as writers:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        resume_at = latest_simulated_time(writers)
        start = options.start or max(now, resume_at or now)
        ctx = Context.create(settings, options.seed, options.bad_share, start)
        handlers: dict[str, Callable[[dt.datetime], None]] = {}
        stats: dict[str, Any] = {}

        residents = niks = kks = None
        if "siak" in writers:
            began = time.monotonic()
            residents, niks, kks = Residents.load(writers["siak"].conn)
            stats["residents_loaded"] = len(residents)
            stats["residents_load_s"] = round(time.monotonic() - began, 2)
        if "siak" in options.systems:
            assert residents is not None and niks is not None and kks is not None
            handlers.update(Siak(ctx, writers["siak"], residents, niks, kks).handlers())
        if "perizinan" in options.systems:
            assert residents is not None and niks is not None and kks is not None
            perizinan = perizinan_system(ctx, writers["perizinan"], residents, niks, kks)
            stats["applications_resumed"] = perizinan.resume()
            handlers.update(perizinan.handlers())
        if "keuangan" in options.systems:
            keuangan = Keuangan(ctx, writers["keuangan"])
            keuangan.start(start)
            handlers.update(keuangan.handlers())
        if "bappeda" in options.systems:
            directory = options.drop_dir or drop_directory(config, settings)
            stats["drop_dir"] = str(directory)
            handlers.update(Bappeda(ctx, directory).handlers())
        if "esakip" in options.systems:
            tokens_file = options.tokens_file or tokens_path(config, settings)
            esakip = Esakip(
                ctx,
                options.esakip_url or esakip_url(config, settings),
                load_tokens(tokens_file),
                float(settings["esakip"]["timeout_s"]),
                float(settings["esakip"]["backoff_s"]),
            )
            stats["esakip_url"] = esakip.url
            stats["esakip_opds"] = [opd.slug for opd in esakip.opds]
            handlers.update(esakip.handlers())

        spec = settings["activity"]
        timeline = Timeline(start, options.rate, options.clock_speed)
        engine = Engine(
            timeline,
            ctx.scheduler,
            spec["mix"],
            handlers,
            list(writers.values()),
            random.Random(f"{options.seed}/mix"),
            tick_s=float(spec["tick_s"]),
            max_batch=int(spec["max_batch"]),
        )
        engine.flush()  # what starting wrote (a new budget year) is committed first
        count = options.activities or max(1, round(options.rate * options.duration_s))
        deadline = None if options.activities else options.duration_s
        progress = engine.run(
            count,
            pace=options.pace,
            deadline_s=deadline,
            report=(lambda p: report(p, ctx.manifest)) if report else None,
        )

    manifest = ctx.manifest
    manifest.activities.update(progress.per_kind)
    rows = sum(manifest.records.values())
    manifest.info.update(
        stats,
        simulated_start=start.astimezone(WIB).isoformat(),
        simulated_end=(progress.sim_now or start).astimezone(WIB).isoformat(),
        rate_requested=options.rate,
        clock_speed=options.clock_speed,
        bad_share=options.bad_share,
        activities=progress.index,
        elapsed_s=round(progress.elapsed_s, 3),
        activities_per_s=round(progress.index / progress.elapsed_s, 1)
        if progress.elapsed_s
        else None,
        rows_per_s=round(rows / progress.elapsed_s, 1) if progress.elapsed_s else None,
        interrupted=progress.interrupted,
        pending_calendar_work=len(ctx.scheduler),
    )
    return manifest


def perizinan_system(
    ctx: Context, writer: Writer, residents: Residents, niks: Any, kks: Any
) -> Perizinan:
    """Licensing, with applicants drawn from the residents (adults) in its own random stream."""
    picker = random.Random(f"{ctx.seed}/perizinan/pemohon")
    places = Population(
        ctx.settings, ctx.seed, local_date(ctx.start), niks, kks, purpose="perizinan-lokasi"
    )

    def applicant(at: dt.datetime) -> str | None:
        i = residents.pick(picker, local_date(at), (18, 75))
        return None if i is None else residents.nik[i]

    return Perizinan(ctx, writer, applicant, places.kelurahan, niks)
