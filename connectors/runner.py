"""`opdbus connect SOURCE`: run one source's connector until SIGTERM.

Each connector kind is a module with `build(config, name, spec, publisher) -> Connector`;
a Connector's `run(stop)` returns once `stop` is set, after its last batch is acknowledged and
its cursor saved, so SIGTERM is a clean shutdown and a restart resumes where it stopped.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import threading
from typing import Any, Protocol

from opdbus.config import Config, ConfigError
from opdbus.connectors.publisher import Publisher
from opdbus.metrics import serve
from opdbus.signals import stop_on_signals

KINDS = {
    "cdc": "opdbus.connectors.cdc",
    "polling": "opdbus.connectors.polling",
    "file_drop": "opdbus.connectors.file_drop",
    "http_push": "opdbus.connectors.http_push",
}

log = logging.getLogger("opdbus.connect")


class Connector(Protocol):
    def run(self, stop: threading.Event) -> None: ...


def source_spec(config: Config, name: str) -> dict[str, Any]:
    sources = config.section("sources")
    if name not in sources:
        raise ConfigError(f"no source {name!r} in config sources (known: {', '.join(sources)})")
    spec = sources[name]
    if spec.get("connector") not in KINDS:
        raise ConfigError(f"sources.{name}.connector must be one of {', '.join(KINDS)}")
    return spec


def run(config: Config, name: str) -> int:
    spec = source_spec(config, name)
    module = importlib.import_module(KINDS[spec["connector"]])
    stop = stop_on_signals()
    port = serve(config, f"connector-{name}")
    publisher = Publisher(config, name)
    connector: Connector = module.build(config, name, spec, publisher)
    log.info("%s connector for %s started; metrics on :%d", spec["connector"], name, port)
    try:
        connector.run(stop)
    finally:
        publisher.close()
    log.info("%s connector for %s stopped cleanly", spec["connector"], name)
    return 0


def _run(args: argparse.Namespace, config: Config) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run(config, args.source)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "connect",
        help="run one OPD source's connector (cdc, polling, file_drop, http_push)",
        description="Publish one source's changes as Avro events until SIGTERM. Sources are "
        "configured under `sources` in config/opdbus.yaml.",
    )
    parser.add_argument("source", help="a name under `sources`, e.g. siak, keuangan, esakip")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    parser.set_defaults(run=_run)
