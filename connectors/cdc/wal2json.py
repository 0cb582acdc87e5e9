"""wal2json format-version 2 messages, one JSON document per row of pg_logical_slot_peek_changes.

A transaction arrives as B (begin: xid, commit timestamp, commit LSNs), its I/U/D/T changes,
then C (commit). The decoder carries the transaction's context from B to its changes and
remembers where the last complete transaction ended, which is where the slot may move.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass
from typing import Any

from opdbus.connectors.cdc.lsn import padded
from opdbus.connectors.cdc.positions import stream_position

# The slot's output options. Column types and primary keys are left out: the configuration
# names the key columns and the catalog gives a new column's type, and without them the
# messages are a third smaller, which is most of the decoding cost on both sides.
OPTIONS: tuple[str, ...] = (
    "format-version", "2",
    "include-xids", "1",
    "include-timestamp", "1",
    "include-lsn", "1",
    "include-types", "0",
)  # fmt: skip

# wal2json 2.5 writes numeric values as JSON numbers: read them as Decimal, never float, so a
# numeric(18,2) amount keeps its cents.
_loads = json.JSONDecoder(parse_float=decimal.Decimal).decode


@dataclass(slots=True)
class Change:
    """One row change. `after` is the new row (I, U), `before` the old one as the table's
    REPLICA IDENTITY gives it (U, D: all columns with FULL, the key columns otherwise)."""

    action: str  # I, U, D or T
    schema: str
    table: str
    lsn: str
    position: str
    xid: int
    ts_ms: int
    after: dict[str, Any] | None
    before: dict[str, Any] | None


class DecodeError(ValueError):
    """A message that is not wal2json format-version 2 as configured (a bug or a wrong slot)."""


def _row(columns: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    if columns is None:
        return None
    return {column["name"]: column["value"] for column in columns}


def commit_ts_ms(text: str) -> int:
    """wal2json's "2026-11-28 03:54:18.739135+00" (the session's time zone) to epoch ms."""
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


class Decoder:
    """Feed it the `data` column in order; it returns the changes. Not thread-safe."""

    def __init__(self) -> None:
        self.committed: str | None = None  # end LSN of the last complete transaction
        self._xid = 0
        self._ts_ms = 0
        self._commit_end = ""  # padded, the first part of every position in the transaction
        self._last_lsn = ""
        self._n = 0
        self._open = False

    def feed(self, data: str) -> Change | None:
        message = _loads(data)
        action = message["action"]
        if action in ("I", "U", "D", "T"):
            if not self._open:
                raise DecodeError(f"change outside a transaction: {data[:200]}")
            lsn = message["lsn"]
            if lsn == self._last_lsn:
                self._n += 1  # another row of the same WAL record (a multi-row insert)
            else:
                self._last_lsn, self._n = lsn, 0
            after = _row(message.get("columns"))
            before = _row(message.get("identity"))
            if after is not None and before is not None and len(after) < len(before):
                # An unchanged TOASTed value is not repeated in the new row: take the old one.
                after = {**before, **after}
            return Change(
                action,
                message["schema"],
                message["table"],
                lsn,
                stream_position(self._commit_end, lsn, self._n),
                self._xid,
                self._ts_ms,
                after,
                before,
            )
        if action == "B":
            self._open = True
            self._xid = message["xid"]
            self._ts_ms = commit_ts_ms(message["timestamp"])
            self._commit_end = padded(message["nextlsn"])
            self._last_lsn, self._n = "", 0
        elif action == "C":
            self._open = False
            self.committed = message["nextlsn"]
        elif action != "M":  # logical messages (pg_logical_emit_message) are not row changes
            raise DecodeError(f"unknown wal2json action {action!r}: {data[:200]}")
        return None
