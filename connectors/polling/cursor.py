"""The polling cursor: which row versions of a table are already published, by writer xid.

Why xids and not `updated_at`: `updated_at` is the writing transaction's start time, so a
transaction that started before a poll and commits after it carries a stamp the poll has
already passed; no fixed trailing window bounds how long a transaction stays open. Every row
version also carries `xmin`, the id of the transaction that wrote it, and every read-only user
can see it and `pg_current_snapshot()`. A transaction still running at a snapshot has an xid
at or above the snapshot's `xmin` (or gets one later, which is higher still), so:

    every version with xmin < low is published            (low only moves to a snapshot's xmin)
    every version of an xid in `seen` is published          (xids at or above low)
    versions of an xid in `partial` are published up to a key (a poll stopped inside that xid)

A transaction's rows become visible all at once, so "all rows of xid x seen at one snapshot"
means all rows of x for good; that holds for subtransaction ids too (their rows appear when the
parent commits), which `pg_current_snapshot()` does not list: that is why `low` is the
snapshot's xmin and not a finer visibility test. See docs/decisions/0005.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

EPOCH = 1 << 32


@dataclass(frozen=True)
class Snapshot:
    """A PostgreSQL snapshot (`pg_snapshot` text `xmin:xmax:xip,...`), full 64-bit xids."""

    xmin: int
    xmax: int
    xip: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        xmin, xmax, xip = text.split(":")
        return cls(int(xmin), int(xmax), tuple(int(x) for x in xip.split(",") if x))


def full_xid(xid32: int, snapshot_xmax: int) -> int:
    """The 64-bit xid of a 32-bit `xmin` seen in a snapshot: visible versions were written
    below the snapshot's xmax, so the xid is the one in the 2^32 window just under it.
    The reserved xids 0-2 (invalid, bootstrap, frozen) sort before every real one."""
    if xid32 < 3:
        return 0
    return snapshot_xmax - ((snapshot_xmax - xid32) % EPOCH)


Key = list[Any]


@dataclass(frozen=True)
class Cursor:
    low: int = 0
    seen: frozenset[int] = frozenset()
    partial: dict[int, Key] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "seen": sorted(self.seen),
            "partial": [[xid, key] for xid, key in sorted(self.partial.items())],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> Cursor:
        if not value:
            return cls()
        return cls(
            low=int(value["low"]),
            seen=frozenset(int(x) for x in value.get("seen", [])),
            partial={int(xid): list(key) for xid, key in value.get("partial", [])},
        )

    def advance(
        self, snapshot: Snapshot, xids: Sequence[int], last_key: Key | None, exhausted: bool
    ) -> Cursor:
        """The cursor after publishing one poll's rows.

        xids: the writer xid of each row read at `snapshot`, in the query's (xid, key) order;
        last_key: the key of the last row; exhausted: the query returned fewer rows than its
        limit, so every unpublished visible version was read.
        """
        read = set(xids)
        if exhausted:
            # Every version visible at the snapshot is published; xids under the snapshot's
            # xmin are finished, so nothing new can appear below it.
            low = max(self.low, snapshot.xmin)
            done = self.seen | read | self.partial.keys()
            return Cursor(low, frozenset(x for x in done if x >= low), {})
        if not xids or last_key is None:
            raise ValueError("a poll that hit its limit read at least one row")
        last = xids[-1]
        # Rows come in xid order: every xid before the last one was read to its end.
        low = max(self.low, min(snapshot.xmin, last))
        done = self.seen | (read - {last}) | {x for x in self.partial if x < last}
        partial = {x: k for x, k in self.partial.items() if x > last}
        partial[last] = list(last_key)
        return Cursor(low, frozenset(x for x in done if x >= low), partial)
