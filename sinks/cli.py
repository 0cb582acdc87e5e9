"""`opdbus sink [--migrate-only]` and `opdbus replay [--drop-old]`."""

from __future__ import annotations

import argparse
import logging
import sys

from opdbus.config import Config
from opdbus.metrics import serve
from opdbus.signals import stop_on_signals

log = logging.getLogger("opdbus.sink")


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _migrate(config: Config) -> int | None:
    from opdbus.sinks.migrate import MigrationError, migrate

    try:
        report = migrate(config)
    except MigrationError as exc:
        print(f"opdbus: error: {exc}", file=sys.stderr)
        return 1
    database = config.section("sink")["database"]
    log.info(
        "database %s migrated: %d applied (%s), %d already applied",
        database,
        len(report.applied),
        ", ".join(report.applied) or "none",
        report.already,
    )
    return None


def _sink(args: argparse.Namespace, config: Config) -> int:
    _logging(args.log_level)
    failed = _migrate(config)
    if failed is not None or args.migrate_only:
        return failed or 0
    from opdbus.sinks.consumer import Sink

    stop = stop_on_signals()
    port = serve(config, "sink")
    sink = Sink(config, stop)
    log.info("sink started (group %s); metrics on :%d", sink.group, port)
    sink.run()
    log.info("sink stopped cleanly")
    return 0


def _replay(args: argparse.Namespace, config: Config) -> int:
    _logging(args.log_level)
    failed = _migrate(config)
    if failed is not None:
        return failed
    from opdbus.sinks.replay import replay
    from opdbus.sinks.swap import SwapError

    stop = stop_on_signals()
    try:
        done = replay(config, stop, drop_old=args.drop_old, progress=_progress)
    except SwapError as exc:
        print(f"\nopdbus: error: {exc}", file=sys.stderr)
        return 1
    if done is None:
        print("\nreplay interrupted; the live view is unchanged", file=sys.stderr)
        return 130
    print(
        f"\nunified rebuilt from {done.events:,} events in {done.seconds:.1f}s and swapped in; "
        + ("the old view was dropped" if args.drop_old else f"the old view is {done.old_schema}")
    )
    return 0


def _progress(done: int, total: int) -> None:
    share = done / total if total else 1.0
    bar = "#" * int(share * 30)
    print(f"\rreplay [{bar:<30}] {done:,}/{total:,} events", end="", file=sys.stderr, flush=True)


def add_parser(sub: argparse._SubParsersAction) -> None:
    sink = sub.add_parser(
        "sink",
        help="apply the integrated topics to the unified view in PostgreSQL, exactly once",
        description="Migrate the sink's database (sink.database), then consume sink.topics "
        "in batches until SIGTERM: each batch's rows and offsets commit in one transaction. "
        "Metrics on metrics.ports.sink.",
    )
    sink.add_argument(
        "--migrate-only", action="store_true", help="apply the SQL migrations and exit"
    )
    sink.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    sink.set_defaults(run=_sink)

    replay = sub.add_parser(
        "replay",
        help="rebuild the unified view from the retained topics and swap it in",
        description="Read sink.topics from the beginning up to their end offsets at start "
        "into a fresh schema unified_replay_<time>, then, in one transaction, rename it to "
        "unified (the old one becomes unified_old_<time>), rebind the monev views and move "
        "the live sink's offsets to where the rebuild stopped. The live sink may keep running.",
    )
    replay.add_argument(
        "--drop-old", action="store_true", help="drop the old unified schema after the swap"
    )
    replay.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING"])
    replay.set_defaults(run=_replay)
