"""`opdbus process`: run a processor worker (faust) until SIGTERM."""

from __future__ import annotations

import argparse
import logging

import faust

from opdbus.config import Config
from opdbus.metrics import serve


def run(config: Config, worker: int, log_level: str) -> int:
    from opdbus.processors.agents import wire
    from opdbus.processors.app import make_app

    app = make_app(config, worker)
    wire(app, config)
    # One metrics port per worker on a machine: the processor's port plus the worker number.
    config.section("metrics")["ports"][f"processor-{worker}"] = (
        int(config.section("metrics")["ports"]["processor"]) + worker
    )
    serve(config, f"processor-{worker}")
    faust.Worker(app, loglevel=log_level.lower(), quiet=True).execute_from_commandline()
    return 0


def _run(args: argparse.Namespace, config: Config) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run(config, args.worker, args.log_level)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "process",
        help="run a processor worker: validate, enrich with population, protect",
        description="A faust worker. Several workers (--worker 0, 1, ...) share the partitions; "
        "each keeps its RocksDB state under <state dir>/processor/<app id>/worker-N and serves "
        "metrics on "
        "metrics.ports.processor + N.",
    )
    parser.add_argument("--worker", type=int, default=0, help="worker number on this machine")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    parser.set_defaults(run=_run)
