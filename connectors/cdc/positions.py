"""Kafka keys and event positions of CDC changes.

A position names one change so that reading it again (after a crash, before the slot moved)
gives the same text, hence the same event_id, and so that text order is change order for a row:

- streamed change: `<commit end LSN>:<change LSN>:<n>`. The commit end LSN orders transactions
  as PostgreSQL committed them (and is where the slot moves once they are acknowledged); the
  change's own LSN orders changes inside the transaction; n tells apart the events of one WAL
  record (the rows of one multi-row insert, or the delete and the create of a key change).
- snapshot row: `<slot point>:r:<key>`, where the slot point is the slot's confirmed LSN when
  the snapshot began. Every streamed change read from that slot commits after the point, so
  its commit end LSN is greater and it sorts after the snapshot rows.

LSNs are padded (see lsn.padded) so that comparing positions as text compares LSNs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opdbus.connectors.cdc.lsn import padded

# Joins the columns of a composite key; single-column keys (all of ours) are the value itself.
KEY_SEPARATOR = "/"


def key_text(row: Mapping[str, Any], key_columns: Sequence[str]) -> str:
    if len(key_columns) == 1:
        return str(row[key_columns[0]])
    return KEY_SEPARATOR.join(str(row[column]) for column in key_columns)


def stream_position(commit_end: str, change_lsn: str, n: int) -> str:
    """commit_end is already padded (once per transaction); change_lsn is as wal2json wrote it."""
    return f"{commit_end}:{padded(change_lsn)}:{n}"


def snapshot_position(point: str, key: str) -> str:
    return f"{padded(point)}:r:{key}"
