"""`opdbus process [--worker N]`: run a processor worker until SIGTERM."""

from __future__ import annotations

import argparse
import logging

from opdbus.config import Config, processor_port
from opdbus.metrics import serve
from opdbus.signals import stop_on_signals

log = logging.getLogger("opdbus.process")
SEND_FAILED_EXIT = 75  # EX_TEMPFAIL: outputs were not acknowledged; a restart re-reads them


def run(config: Config, worker: int) -> int:
    from opdbus.processors.emit import SendFailed
    from opdbus.processors.worker import Worker

    stop = stop_on_signals()
    # One metrics port per worker on a machine, also for a worker beyond processors.workers.
    ports = config.section("metrics")["ports"]
    ports[f"processor-{worker}"] = processor_port(ports, worker)
    port = serve(config, f"processor-{worker}")
    log.info("processor worker %d starting; metrics on :%d", worker, port)
    try:
        Worker(config, worker, stop).run()
    except SendFailed as exc:
        log.critical("exiting before storing state or offsets: %s", exc)
        return SEND_FAILED_EXIT
    log.info("processor worker %d stopped cleanly", worker)
    return 0


def _run(args: argparse.Namespace, config: Config) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run(config, args.worker)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "process",
        help="run a processor worker: validate, enrich with population, protect",
        description="Several workers (--worker 0, 1, ...) share the partitions of the "
        "processor's consumer group; each keeps its RocksDB state under "
        "<state dir>/processor/<app id>/worker-N and serves metrics on "
        "metrics.ports.processor + N.",
    )
    parser.add_argument("--worker", type=int, default=0, help="worker number on this machine")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    parser.set_defaults(run=_run)
