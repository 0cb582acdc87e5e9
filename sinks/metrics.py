"""The sink's Prometheus metrics (DESIGN.md names: opdbus_ prefix, _total counters, _seconds
histograms). Labels are bounded: table, op, topic, outcome, reason; never a key or an id.

Failures use the shared opdbus_events_failed_total{stage="sink"} (the SinkFailing alert) and
dead letters the shared opdbus_dlq_events_total{stage="sink"}.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from opdbus.metrics import Delays

ROWS = Counter(
    "opdbus_sink_rows_total",
    "Rows the sink changed in the unified view, by table and op (insert, update, delete)",
    ["table", "op"],
)
EVENTS = Counter(
    "opdbus_sink_events_total",
    "Messages the sink consumed and committed, by topic and outcome (row: became a row "
    "candidate; tombstone: skipped; dead_letter: parked in dlq.sink)",
    ["topic", "outcome"],
)
SUPERSEDED = Counter(
    "opdbus_sink_superseded_total",
    "Row candidates not applied because a newer change of the same key won (in the batch, or "
    "already stored: the guard)",
    ["table"],
)
BATCHES = Counter("opdbus_sink_batches_total", "Batches the sink committed")
BATCH_SECONDS = Histogram(
    "opdbus_sink_batch_seconds",
    "Time to apply one batch: dead letters, COPY, merge, offsets, commit",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
)
BATCH_EVENTS = Histogram(
    "opdbus_sink_batch_events",
    "Messages per committed batch",
    buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000, 20000),
)
END_TO_END = Delays(
    "opdbus_end_to_end_seconds",
    "Delay from an event's source commit to the sink's commit of it in the unified view",
    "table",
    # Tenths up to the 1 s target, so that a p99 near it is read from a bucket 0.1 s wide.
    (0.05, *(tenth / 10 for tenth in range(1, 11)), 1.5, 2, 3, 5, 10, 30, 60, 300, 900, 3600),
)
