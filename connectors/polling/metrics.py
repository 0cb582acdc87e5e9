"""Polling's own metrics, beside the publisher's (events out, failures, dead letters, source
time of the last event, source-to-ack delay)."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

SOURCE_LAG = Gauge(
    "opdbus_polling_source_lag_seconds",
    "Seconds since the source snapshot up to which every committed row of the table is published",
    ["source", "table"],
)
HORIZON_XIDS = Gauge(
    "opdbus_polling_horizon_lag_xids",
    "Source transactions between the cursor's low xid and the snapshot's xmax; stays high "
    "while a source transaction is held open (it also holds back VACUUM)",
    ["source", "table"],
)
SEEN_XIDS = Gauge(
    "opdbus_polling_seen_xids",
    "Writer xids at or above the cursor's low xid remembered as published",
    ["source", "table"],
)
QUERY_SECONDS = Histogram(
    "opdbus_polling_query_seconds",
    "Time to read one poll (snapshot and pending rows) from the source",
    ["source", "table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
