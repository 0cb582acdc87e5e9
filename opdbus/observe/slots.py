"""Replication-slot lag of the CDC sources, read from PostgreSQL's pg_replication_slots."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from opdbus.observe.sources import CdcSlot

# WAL the slot holds back: from the oldest position its consumer has not confirmed to now.
# restart_lsn covers a slot that never confirmed anything; a lost slot has neither.
QUERY = """
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(confirmed_flush_lsn, restart_lsn))::bigint,
       coalesce(wal_status, '')
FROM pg_replication_slots
WHERE slot_name = %s
"""


@dataclass(frozen=True)
class SlotReading:
    source: str
    slot: str
    exists: bool
    lag_bytes: int | None  # None: no slot, or a slot PostgreSQL invalidated (wal_status lost)
    wal_status: str = ""


def read_slot(url: str, slot: CdcSlot, timeout_s: float) -> SlotReading:
    """Raises psycopg.Error when the server cannot be reached."""
    with psycopg.connect(
        url,
        connect_timeout=max(int(timeout_s), 1),
        options=f"-c statement_timeout={int(timeout_s * 1000)}",
        application_name="opdbus-lag-collector",
    ) as conn:
        row = conn.execute(QUERY, (slot.slot,)).fetchone()
    if row is None:
        return SlotReading(slot.source, slot.slot, exists=False, lag_bytes=None)
    lag, wal_status = row
    return SlotReading(slot.source, slot.slot, True, None if lag is None else int(lag), wal_status)
