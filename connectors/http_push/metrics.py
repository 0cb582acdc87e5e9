"""The push API's own metrics; events out/failed and source freshness come from the Publisher.

Labels stay bounded: the source name and the HTTP status code (a fixed set of numbers).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "opdbus_http_push_requests_total",
    "Push API requests answered, by status code",
    ["source", "status"],
)
REQUEST_SECONDS = Histogram(
    "opdbus_http_push_request_duration_seconds",
    "Time from a push request's arrival to its answer (202 includes the Kafka ack)",
    ["source", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ITEMS = Counter(
    "opdbus_http_push_items_total",
    "Items received in push requests, by the request's outcome (accepted, rejected, failed)",
    ["source", "outcome"],
)


def observe(source: str, status: int, seconds: float, items: int) -> None:
    code = str(status)
    REQUESTS.labels(source, code).inc()
    REQUEST_SECONDS.labels(source, code).observe(seconds)
    if items:
        outcome = "accepted" if status == 202 else "failed" if status >= 500 else "rejected"
        ITEMS.labels(source, outcome).inc(items)
