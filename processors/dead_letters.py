"""dlq.processors: the original bytes, untouched, with the reason in headers.

Headers follow Kafka Connect's DLQ context (original topic, partition, offset, stage, error
class, message) under the opdbus.dlq. prefix the connectors use too, plus the field and rule
when a validation rule was broken, so an operator can fix the source and replay.
"""

from __future__ import annotations

import re

from opdbus.metrics import DEAD_LETTERS

STAGE = "processor"


def _reason(error: Exception) -> str:
    """The first broken rule with its numbers masked (a bounded label), or the error class."""
    rules = getattr(error, "rules", None)
    return re.sub(r"\d+", "N", rules[0])[:80] if rules else type(error).__name__


def headers(
    topic: str, partition: int, offset: int, stage: str, error: Exception
) -> list[tuple[str, bytes]]:
    found = {
        "opdbus.dlq.stage": f"{STAGE}.{stage}",
        "opdbus.dlq.topic": topic,
        "opdbus.dlq.partition": str(partition),
        "opdbus.dlq.offset": str(offset),
        "opdbus.dlq.error.class": type(error).__name__,
        "opdbus.dlq.error.message": str(error),
    }
    fields = getattr(error, "fields", None)
    if fields:
        found["opdbus.dlq.error.field"] = ",".join(fields)
        found["opdbus.dlq.error.rule"] = "; ".join(error.rules)  # type: ignore[attr-defined]
    return [(name, value.encode()) for name, value in found.items()]


def count(stage: str, error: Exception) -> None:
    DEAD_LETTERS.labels(f"{STAGE}.{stage}", _reason(error)).inc()
