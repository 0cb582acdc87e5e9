"""`opdbus lag`: the lag collector. Every observe.interval_s it reads the broker and the CDC
slots (collect.py) and serves what it read on /metrics (metrics.ports.lag-collector).

Series that disappear at the source (a deleted group, a dropped slot) are removed, not frozen
at their last value; when a service cannot be reached its series are dropped and
opdbus_lag_collector_up{target} says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from prometheus_client import Gauge

from opdbus.config import Config
from opdbus.metrics import SLOT_LAG, serve
from opdbus.observe.broker import Broker
from opdbus.observe.collect import Snapshot, read_snapshot
from opdbus.observe.settings import ObserveSettings, load_settings
from opdbus.signals import stop_on_signals
from opdbus.stack.process import StackError

COMPONENT = "lag-collector"

CONSUMER_LAG = Gauge(
    "opdbus_consumer_lag_messages",
    "Messages between a consumer group's committed offset and the partition's end",
    ["group", "topic", "partition"],
)
SOURCE_FRESHNESS = Gauge(
    "opdbus_source_freshness_seconds",
    "Seconds since the newest message on any of a source's topics (broker timestamps)",
    ["source"],
)
SOURCE_EXPECTED_INTERVAL = Gauge(
    "opdbus_source_expected_interval_seconds",
    "Seconds a source may stay silent before it is alerted on (observe.expected_interval_s)",
    ["source"],
)
DLQ_MESSAGES = Gauge(
    "opdbus_dlq_messages",
    "Messages ever written to a dead-letter topic (sum of its partitions' high watermarks)",
    ["topic"],
)
COLLECTOR_UP = Gauge(
    "opdbus_lag_collector_up",
    "1 if the lag collector reached this target on its last pass, else 0",
    ["target"],
)

log = logging.getLogger("opdbus.observe.lag")

Labels = tuple[str, ...]


class SeriesSet:
    """Keeps a gauge's series equal to the latest reading: stale label sets are removed."""

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge
        self.current: set[Labels] = set()

    def replace(self, values: Mapping[Labels, float]) -> None:
        for labels, value in values.items():
            self.gauge.labels(*labels).set(value)
        for labels in self.current - values.keys():
            self.gauge.remove(*labels)
        self.current = set(values)


class Exporter:
    def __init__(self, settings: ObserveSettings) -> None:
        self.lag = SeriesSet(CONSUMER_LAG)
        self.freshness = SeriesSet(SOURCE_FRESHNESS)
        self.dlq = SeriesSet(DLQ_MESSAGES)
        self.slots = SeriesSet(SLOT_LAG)
        self.up = SeriesSet(COLLECTOR_UP)
        # From config, constant for the process: exported so alert rules compare against it.
        for source, seconds in settings.expected_interval_s.items():
            SOURCE_EXPECTED_INTERVAL.labels(source).set(seconds)

    def export(self, snap: Snapshot) -> None:
        self.lag.replace({(r.group, r.topic, str(r.partition)): r.lag for r in snap.consumer_lag})
        self.freshness.replace(
            {(source,): age for source, age in snap.freshness.items() if age is not None}
        )
        self.dlq.replace({(topic,): total for topic, total in snap.dead_letters.items()})
        self.slots.replace(
            {
                (r.source, r.slot): r.lag_bytes
                for r in snap.slots.values()
                if r.lag_bytes is not None
            }
        )
        self.up.replace({(t,): float(snap.reachable(t)) for t in snap.targets})


class Reachability:
    """One log line when a target becomes unreachable and one when it is back: a broker
    down for an hour is two lines, not 240."""

    def __init__(self) -> None:
        self.down: dict[str, str] = {}

    def note(self, snap: Snapshot) -> None:
        for target in snap.targets:
            error = snap.errors.get(target)
            if error and target not in self.down:
                log.warning("cannot reach %s: %s", target, error)
            elif not error and target in self.down:
                log.info("%s reachable again", target)
            if error:
                self.down[target] = error
            else:
                self.down.pop(target, None)


def run(config: Config, stop: threading.Event) -> None:
    settings = load_settings(config)
    try:
        port = serve(config, COMPONENT)
    except OSError as exc:
        raise StackError(
            f"lag collector cannot serve /metrics on metrics.ports.{COMPONENT}: {exc}"
        ) from exc
    broker = Broker(config, settings.timeout_s)
    exporter = Exporter(settings)
    reachability = Reachability()
    log.info("lag collector on :%d/metrics, every %.0fs", port, settings.interval_s)
    while not stop.is_set():
        snap = read_snapshot(config, settings, broker)
        exporter.export(snap)
        reachability.note(snap)
        log.debug(
            "%d partitions lagging, %d slots, %d dlq topics",
            len(snap.consumer_lag),
            len(snap.slots),
            len(snap.dead_letters),
        )
        stop.wait(settings.interval_s)
    log.info("lag collector stopped")


def main(config: Config) -> int:
    stop = stop_on_signals()
    run(config, stop)
    return 0
