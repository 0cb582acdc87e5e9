"""Prometheus metrics every stage shares (prefix opdbus_, counters end in _total, durations
are _seconds histograms).

Label values stay bounded: stage, source, topic, reason; never a NIK or an event id.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, start_http_server
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from opdbus.config import Config

EVENTS_OUT = Counter(
    "opdbus_events_out_total",
    "Events a stage wrote to Kafka and Kafka acknowledged",
    ["stage", "topic"],
)
EVENTS_FAILED = Counter(
    "opdbus_events_failed_total",
    "Events a stage could not publish (delivery errors, retried) or rejected (dead-lettered)",
    ["stage", "topic", "reason"],
)
DEAD_LETTERS = Counter(
    "opdbus_dlq_events_total",
    "Events parked in a dead-letter topic, by the rule they broke",
    ["stage", "reason"],
)


class Delays:
    """A histogram of delays with one label, fed a whole batch at a time.

    prometheus_client's Histogram takes two locks and scans its buckets for each observation:
    on the per-event paths that cost more than the work measured. Here a batch's values are
    binned in plain Python, merged under one lock, and exposed at each scrape in the same
    format (`_bucket{le=...}`, `_count`, `_sum`)."""

    def __init__(self, name: str, documentation: str, label: str, buckets: Iterable[float]) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        self.bounds = (*sorted(buckets), math.inf)
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        self._lock = threading.Lock()
        REGISTRY.register(self)

    def observe_all(self, label_value: str, values: Iterable[float]) -> None:
        counts = [0] * len(self.bounds)
        total = 0.0
        bounds = self.bounds
        for value in values:
            counts[bisect_left(bounds, value)] += 1  # a bucket's bound is inclusive (le)
            total += value
        with self._lock:
            kept = self._counts.setdefault(label_value, [0] * len(bounds))
            for i, n in enumerate(counts):
                kept[i] += n
            self._sums[label_value] = self._sums.get(label_value, 0.0) + total

    def observe_since(self, label_value: str, source_ms: Iterable[int]) -> None:
        """Delays from source commit times (epoch ms) to now; never below 0, as the source's
        clock and ours may disagree a little."""
        now = time.time()
        self.observe_all(label_value, [max(0.0, now - ms / 1000) for ms in source_ms])

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=[self.label])
        with self._lock:
            for label_value, counts in self._counts.items():
                cumulative, buckets = 0, []
                for bound, n in zip(self.bounds, counts, strict=True):
                    cumulative += n
                    buckets.append((floatToGoString(bound), cumulative))
                family.add_metric([label_value], buckets, self._sums[label_value])
        yield family


SOURCE_LAST_EVENT = Gauge(
    "opdbus_source_last_event_timestamp_seconds",
    "Source commit time of the newest event published from a source (freshness = now - this)",
    ["source"],
)
SOURCE_TO_ACK = Delays(
    "opdbus_source_to_ack_seconds",
    "Delay from the source's commit to Kafka's acknowledgement of the event",
    "source",
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60),
)
SLOT_LAG = Gauge(
    "opdbus_replication_slot_lag_bytes",
    "WAL bytes a CDC source's replication slot holds back (current LSN - confirmed flush LSN)",
    ["source", "slot"],
)

# Processors: processed, enriched, unmatched, waiting, latency (DLQ counts use DEAD_LETTERS).
PROCESSED = Counter(
    "opdbus_processor_events_total",
    "Input events the processors handled, by input topic and outcome",
    ["topic", "outcome"],
)
WAITING = Gauge(
    "opdbus_processor_waiting_events",
    "Events waiting in state for their NIK's population record (this worker's partitions)",
)
PROCESSING_SECONDS = Delays(
    "opdbus_processor_processing_seconds",
    "Time from an event's source commit to Kafka's acknowledgement of its integrated output",
    "output",
    (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 2, 5, 10, 30, 60, 300, 900),
)


def serve(config: Config, component: str) -> int:
    """Serve /metrics for component on its configured port; returns the port."""
    metrics = config.section("metrics")
    port = int(metrics["ports"][component])
    start_http_server(port, addr=metrics["host"])
    return port
