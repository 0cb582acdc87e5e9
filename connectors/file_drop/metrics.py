"""File drop's own metrics, beside the publisher's (events out, failures, dead letters by rule,
source time of the last event = the newest file's mtime)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

FILES = Counter(
    "opdbus_file_drop_files_total",
    "Files taken from the drop directory: published (valid rows sent, bad ones reported), "
    "redropped (content already published), unreadable (whole file reported)",
    ["source", "outcome"],
)
PENDING = Gauge(
    "opdbus_file_drop_pending_files",
    "Files in the drop directory not taken yet (still being written, or waiting for a scan)",
    ["source"],
)
