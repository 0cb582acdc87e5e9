"""Prometheus metrics every stage shares (prefix opdbus_, counters end in _total, durations
are _seconds histograms).

Label values stay bounded: stage, source, topic, reason; never a NIK or an event id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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
SOURCE_LAST_EVENT = Gauge(
    "opdbus_source_last_event_timestamp_seconds",
    "Source commit time of the newest event published from a source (freshness = now - this)",
    ["source"],
)
SOURCE_TO_ACK = Histogram(
    "opdbus_source_to_ack_seconds",
    "Delay from the source's commit to Kafka's acknowledgement of the event",
    ["source"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60),
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
PROCESSING_SECONDS = Histogram(
    "opdbus_processor_processing_seconds",
    "Time from an event's source commit to its integrated output being sent",
    ["output"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
)


def serve(config: Config, component: str) -> int:
    """Serve /metrics for component on its configured port; returns the port."""
    metrics = config.section("metrics")
    port = int(metrics["ports"][component])
    start_http_server(port, addr=metrics["host"])
    return port
