"""Prometheus metrics every stage shares (prefix opdbus_, counters end in _total).

Label values stay bounded: stage, topic, reason; never a NIK or an event id.
"""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

from opdbus.config import Config

EVENTS_OUT = Counter(
    "opdbus_events_out_total",
    "Events a stage wrote to Kafka and Kafka acknowledged",
    ["stage", "topic"],
)


def serve(config: Config, component: str) -> int:
    """Serve /metrics for component on its configured port; returns the port."""
    metrics = config.section("metrics")
    port = int(metrics["ports"][component])
    start_http_server(port, addr=metrics["host"])
    return port
