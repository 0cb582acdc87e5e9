"""The observability subcommands: `opdbus lag` and `opdbus status`.

Implementations are imported when a command runs, so `opdbus --help` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from opdbus.config import Config


def _lag(args: argparse.Namespace, config: Config) -> int:
    from opdbus.observe import lag

    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return lag.main(config)


def _status(args: argparse.Namespace, config: Config) -> int:
    from opdbus.observe import status
    from opdbus.observe.render import render
    from opdbus.observe.settings import load_settings

    # Status reports an unreachable broker in one line of its own; librdkafka's retries
    # would only clutter the screen.
    logging.getLogger("opdbus.observe.librdkafka").setLevel(logging.CRITICAL)
    settings = load_settings(config)
    if args.timeout is not None:
        settings = dataclasses.replace(settings, timeout_s=args.timeout)
    rep = status.report(status.gather(config, settings), settings)
    print(json.dumps(rep, indent=2) if args.json else render(rep))
    return status.exit_code(rep)


def add_parser(sub: argparse._SubParsersAction) -> None:
    lag = sub.add_parser(
        "lag",
        help="run the lag collector: consumer lag, slot lag, freshness, DLQ size on /metrics",
        description="Read consumer-group lag, replication-slot lag, source freshness and "
        "dead-letter counts every observe.interval_s and serve them for Prometheus on "
        "metrics.ports.lag-collector, until SIGTERM.",
    )
    lag.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    lag.set_defaults(run=_lag)

    status = sub.add_parser(
        "status",
        help="one screen: components up/down, lag, slots, freshness, DLQ; exit 3 if unhealthy",
        description="Each component up or down (from Prometheus), the local stack's services, "
        "consumer lag per group, replication-slot lag per CDC source, freshness per source and "
        "dead-letter counts. Exit 0 when healthy, 3 when something is wrong (listed last).",
    )
    status.add_argument("--json", action="store_true", help="the same report as JSON")
    status.add_argument(
        "--timeout", type=float, help="seconds per request (default: observe.timeout_s)"
    )
    status.set_defaults(run=_status)
