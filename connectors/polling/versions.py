"""A polled row version's identity: Kafka key, position, source time.

The position names the version, not the poll: `<key>@<updated_at in UTC>`, so reading the same
version again (after a crash, or a poll that was not acknowledged) gives the same event_id,
and a newer version of the row a new one. Without a version column, the writer xid stands in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

UTC = dt.UTC


def kafka_key(values: Sequence[Any]) -> str:
    return "/".join(str(v) for v in values)


def stamp(value: Any) -> str:
    """The version column as text that does not depend on the session's time zone."""
    if isinstance(value, dt.datetime):  # fixed width, so text order is time order
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat("T", "microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def position(key: Sequence[Any], version: Any, xid: int) -> str:
    return f"{kafka_key(key)}@{stamp(version) if version is not None else f'xid:{xid}'}"


def ts_ms(version: Any, not_before_ms: int | None, polled: dt.datetime) -> int:
    """Source time of a version, increasing from one version of a row to the next.

    A poller cannot know the commit time. The version column is the writing transaction's
    start: a lower bound, but not monotonic per row (a transaction that started earlier can
    update a row after a later-started one committed its own version). The previous poll's
    snapshot time is the other bound: a version read now that was not read then becomes
    visible after it (or was backlog). The later of the two increases strictly from a row's
    version to its next one, so (ts_ms, position) orders a row's changes for the sink's guard;
    it is saved with the cursor, so a version read again after a crash gets the same value.
    """
    if isinstance(version, dt.datetime):
        when = version if version.tzinfo else version.replace(tzinfo=UTC)
    else:
        when = polled
    millis = int(when.timestamp() * 1000)
    return millis if not_before_ms is None else max(millis, not_before_ms)
