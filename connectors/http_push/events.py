"""Accepted records to envelopes: where each goes, under which key, with which event id.

The position is `<request id>#<index>`, so a client that retries with the same X-Request-Id
gets the same event ids and downstream drops the duplicates. The source time is the OPD's
own `dilaporkan_pada` (a record holds it as epoch milliseconds, connectors/records.py); tx_id
is the request id, tying the batch's events together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opdbus.envelope import Source, make_event

TIME_FIELD = "dilaporkan_pada"


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Origin:
    """The fixed part of every event's source block for one connector."""

    system: str
    database: str
    table: str
    key_fields: Sequence[str]


def to_events(
    origin: Origin, opd: str, topic: str, request_id: str, records: list[dict[str, Any]]
) -> list[Outgoing]:
    out = []
    for index, record in enumerate(records):
        source = Source(
            opd=opd,
            system=origin.system,
            database=origin.database,
            table=origin.table,
            position=f"{request_id}#{index}",
            ts_ms=record[TIME_FIELD],
            tx_id=request_id,
        )
        # "c": a push carries no before image; the sink upserts by key either way.
        key = "/".join(str(record[name]) for name in origin.key_fields)
        out.append(Outgoing(topic, key, make_event("c", source, after=record)))
    return out
