"""`opdbus simulate setup|run`: the simulated OPD systems from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from opdbus.config import Config, ConfigError
from opdbus.simulator import settings as settings_module

SYSTEM_NAMES = ("siak", "perizinan", "keuangan", "bappeda", "esakip")


def _timestamp(text: str) -> dt.datetime:
    """ISO date or date-time; without an offset it is read as WIB (Pontianak's clock)."""
    from opdbus.simulator.clock import WIB

    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=WIB)


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _systems(text: str) -> frozenset[str]:
    chosen = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = chosen - set(SYSTEM_NAMES)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SYSTEM_NAMES)}")
    return chosen


def add_parser(sub: Any) -> None:
    defaults = settings_module.load()
    activity = defaults["activity"]
    simulate = sub.add_parser(
        "simulate",
        help="simulated OPD systems: create their tables, seed them, produce activity",
        description="Stand-ins for the OPD systems (SIAK, licensing, finance, Bappeda's "
        "spreadsheets, e-SAKIP) with realistic data and a share of realistic bad records. "
        f"Knobs: {settings_module.DEFAULTS_FILE} (override with --settings FILE).",
    )
    actions = simulate.add_subparsers(dest="action", required=True, metavar="ACTION")

    setup = actions.add_parser(
        "setup",
        help="create the tables and seed the population, budget and recent licensing",
        description="Create the tables in the siak, perizinan and keuangan databases (from "
        "sources.*.database) and seed them: the population by COPY, the licensing work of the "
        "last weeks, this year's budget with the payments made so far. Idempotent: parts that "
        "already hold data are left as they are.",
    )
    setup.add_argument(
        "--citizens",
        type=int,
        default=defaults["population"]["citizens"],
        help="citizens to seed (default %(default)s)",
    )
    setup.add_argument("--seed", type=int, default=defaults["seed"], help="default %(default)s")
    setup.add_argument(
        "--bad-share",
        type=_share,
        default=defaults["bad_share"],
        help="share of seeded records with a realistic fault (default %(default)s)",
    )
    setup.add_argument(
        "--as-of",
        type=_timestamp,
        help="the moment the seeded state describes (default: now; ISO, WIB if no offset)",
    )
    setup.add_argument(
        "--history-days",
        type=int,
        default=defaults["perizinan"]["history_days"],
        help="days of past licensing work to record (default %(default)s)",
    )
    _common(setup)
    setup.set_defaults(run=_setup)

    run = actions.add_parser(
        "run",
        help="produce activity in every simulated system at a chosen rate",
        description="Births, moves, deaths and name corrections in SIAK; licence applications "
        "moving through their statuses; SP2D payments and budget revisions; Bappeda target "
        "exports (CSV/XLSX, dropped atomically); e-SAKIP pushes. A seed makes the activities "
        "and their simulated times repeatable. Prints a progress line and a summary; writes a "
        "manifest (JSON) listing every bad record.",
    )
    run.add_argument(
        "--rate",
        type=_positive,
        default=activity["rate"],
        help="activities per second (default %(default)s)",
    )
    run.add_argument(
        "--duration",
        type=_positive,
        default=activity["duration_s"],
        help="seconds of wall-clock time (default %(default)s)",
    )
    run.add_argument(
        "--activities", type=int, help="run exactly this many activities instead of --duration"
    )
    run.add_argument("--seed", type=int, default=defaults["seed"], help="default %(default)s")
    run.add_argument(
        "--bad-share",
        type=_share,
        default=defaults["bad_share"],
        help="share of records with a realistic fault (default %(default)s)",
    )
    run.add_argument(
        "--clock-speed",
        type=_positive,
        default=activity["clock_speed"],
        help="simulated seconds per real second (default %(default)s: 1 s = 1 h)",
    )
    run.add_argument(
        "--start",
        type=_timestamp,
        help="simulated start (default: now, or later if earlier runs got ahead of now)",
    )
    run.add_argument(
        "--no-pace", action="store_true", help="run as fast as possible (to measure the rate)"
    )
    run.add_argument(
        "--systems",
        type=_systems,
        default=frozenset(SYSTEM_NAMES),
        help=f"comma-separated subset of {','.join(SYSTEM_NAMES)} (default: all)",
    )
    run.add_argument(
        "--drop-dir",
        type=Path,
        help="Bappeda's file-drop directory (default: sources.perencanaan.directory, "
        "else <state dir>/drop/bappeda)",
    )
    run.add_argument(
        "--esakip-url",
        help="push endpoint (default: http://<sources.esakip.host>:<port>/v1/kinerja)",
    )
    run.add_argument(
        "--esakip-tokens",
        type=Path,
        help="YAML mapping opd -> token (default: <state dir>/secrets/esakip-tokens.yaml)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress line, only the summary")
    _common(run)
    run.set_defaults(run=_run)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", type=Path, help="YAML merged over simulator/defaults.yaml")
    parser.add_argument(
        "--manifest",
        type=Path,
        help="where to write the manifest (default: <state dir>/simulator/<action>-<time>.json)",
    )


def _manifest_path(args: argparse.Namespace, config: Config, action: str) -> Path:
    if args.manifest:
        return Path(args.manifest)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return config.state_dir / "simulator" / f"{action}-{stamp}.json"


def _failures() -> tuple[type[Exception], ...]:
    import psycopg

    return (psycopg.Error, OSError, ValueError)


def _fail(exc: Exception) -> int:
    import psycopg

    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, psycopg.errors.UndefinedTable):
        message = f"{message.split(' LINE ')[0]}; run `opdbus simulate setup` first"
    print(f"opdbus: error: simulate: {message}", file=sys.stderr)
    return 1


class _Line:
    """One progress line, rewritten in place on a terminal, every few seconds otherwise."""

    def __init__(self, quiet: bool = False, every_s: float = 10.0) -> None:
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.every_s = every_s
        self.last = -1e9
        self.shown = False

    def show(self, text: str, now: float, force: bool = False) -> None:
        if self.quiet:
            return
        if self.tty:
            print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)
            self.shown = True
        elif force or now - self.last >= self.every_s:
            print(text, file=sys.stderr, flush=True)
            self.last = now

    def done(self) -> None:
        if self.tty and self.shown:
            print(file=sys.stderr)


def _setup(args: argparse.Namespace, config: Config) -> int:
    import time

    from opdbus.simulator.seeding import setup

    try:
        settings = settings_module.load(args.settings)
        began = time.monotonic()
        line = _Line()

        def seed_progress(done: int, total: int) -> None:
            elapsed = time.monotonic() - began
            share = done / total if total else 1
            line.show(
                f"seeding penduduk: {done:,}/{total:,} ({share:.0%}) {elapsed:.1f} s",
                elapsed,
                force=done == total,
            )

        def report(text: str) -> None:
            line.done()
            line.shown = False
            print(text, flush=True)

        result = setup(
            config,
            settings,
            citizens=args.citizens,
            seed=args.seed,
            bad_share=args.bad_share,
            as_of=args.as_of,
            history_days=args.history_days,
            report=report,
            seed_progress=seed_progress,
        )
    except ConfigError:
        raise
    except _failures() as exc:
        return _fail(exc)
    manifest = result.manifest
    if manifest.records:
        path = manifest.write(_manifest_path(args, config, "setup"))
        bad = manifest.bad_counts
        print(f"bad records: {sum(bad.values()):,} ({_counts(bad)}); manifest: {path}")
    print(f"setup done in {time.monotonic() - began:.1f} s")
    return 0


def _counts(counter: Any) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items())) or "none"


def _run(args: argparse.Namespace, config: Config) -> int:
    from opdbus.simulator.activity import RunOptions, run
    from opdbus.simulator.clock import WIB

    line = _Line(quiet=args.quiet)

    def report(progress: Any, manifest: Any) -> None:
        rate = progress.index / progress.elapsed_s if progress.elapsed_s else 0.0
        rows = sum(manifest.records.values())
        sim = (
            progress.sim_now.astimezone(WIB).strftime("%Y-%m-%d %H:%M") if progress.sim_now else "-"
        )
        behind = "  (behind: running flat out)" if progress.behind else ""
        line.show(
            f"{progress.elapsed_s:6.1f} s  {progress.index:,} activities  {rate:,.0f}/s  "
            f"rows {rows:,}  bad {len(manifest.bad):,}  sim {sim} WIB{behind}",
            progress.elapsed_s,
        )

    try:
        settings = settings_module.load(args.settings)
        options = RunOptions(
            rate=args.rate,
            duration_s=args.duration,
            seed=args.seed,
            bad_share=args.bad_share,
            clock_speed=args.clock_speed,
            start=args.start,
            activities=args.activities,
            pace=not args.no_pace,
            systems=args.systems,
            drop_dir=args.drop_dir,
            esakip_url=args.esakip_url,
            tokens_file=args.esakip_tokens,
        )
        manifest = run(config, settings, options, report=report)
        line.done()
        path = manifest.write(_manifest_path(args, config, "run"))
    except ConfigError:
        raise
    except _failures() as exc:
        line.done()
        return _fail(exc)
    _summary(manifest, path)
    return 0


def _summary(manifest: Any, path: Path) -> None:
    info = manifest.info
    rows = sum(manifest.records.values())
    bad = manifest.bad_counts
    share = sum(bad.values()) / rows if rows else 0.0
    print(
        f"simulated {info['simulated_start']} -> {info['simulated_end']} "
        f"(clock x{info['clock_speed']:g})"
    )
    print(
        f"activities: {info['activities']:,} in {info['elapsed_s']:.1f} s = "
        f"{info['activities_per_s'] or 0:,.1f}/s (requested {info['rate_requested']:g}/s); "
        f"rows/items written {rows:,} ({info['rows_per_s'] or 0:,.1f}/s)"
        + ("; interrupted" if info.get("interrupted") else "")
    )
    print(f"  per kind: {_counts(manifest.activities)}")
    print(f"  rows: {_counts(manifest.records)}")
    print(f"  bad records: {sum(bad.values()):,} ({share:.2%} of rows): {_counts(bad)}")
    if manifest.notes:
        print(f"  notes: {_counts(manifest.notes)}")
    print(f"manifest: {path}")
