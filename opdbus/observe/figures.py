"""Pure arithmetic from offsets and timestamps to the figures we report. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

TP = tuple[str, int]
DLQ_PREFIX = "dlq."  # DESIGN.md: dead letters go to dlq.<stage>


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        # A commit past the end is possible for an instant after a topic is recreated.
        return max(self.end - self.committed, 0)


def consumer_lag(
    committed: Mapping[str, Mapping[TP, int]],
    ends: Mapping[TP, int],
    watches: Callable[[str], bool] = lambda group: True,
) -> list[PartitionLag]:
    """One row per watched group and partition it committed; partitions whose end is unknown
    (topic deleted) are skipped."""
    rows = [
        PartitionLag(group, topic, partition, offset, ends[(topic, partition)])
        for group, offsets in committed.items()
        if watches(group)
        for (topic, partition), offset in offsets.items()
        if (topic, partition) in ends
    ]
    return sorted(rows, key=lambda r: (r.group, r.topic, r.partition))


def group_totals(rows: list[PartitionLag]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.group] = totals.get(row.group, 0) + row.lag
    return totals


def dead_letter_totals(ends: Mapping[TP, int], prefix: str = DLQ_PREFIX) -> dict[str, int]:
    """dlq topic -> messages ever written (sum of its partitions' high watermarks)."""
    totals: dict[str, int] = {}
    for (topic, _), end in ends.items():
        if topic.startswith(prefix):
            totals[topic] = totals.get(topic, 0) + end
    return totals


def freshness(
    newest: Mapping[TP, float], topics_of: Mapping[str, list[str]], now: float
) -> dict[str, float | None]:
    """source -> seconds since the newest message on any of its topics; None when none of
    its topics holds a message yet."""
    out: dict[str, float | None] = {}
    for source, topics in topics_of.items():
        stamps = [ts for (topic, _), ts in newest.items() if topic in topics]
        out[source] = max(now - max(stamps), 0.0) if stamps else None
    return out
