"""Which file contents were already published (by SHA-256), and which target ids.

Kept in the bus's offset store: one entry per file (`file:<sha256>`, looked up when a file
is taken, so the cost does not grow with history) and the ids published per year
(`ids:<tahun>`, the first part of a target id), written only when a file brings new ids.
Both are written only after Kafka acknowledged the file's rows: a file is either fully
published and recorded, or read again with the same event ids.

Identity is the bytes: the same export dropped again, under any name, publishes nothing; a
re-saved workbook with other bytes is a new file (its rows then come as updates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol


class Store(Protocol):
    """What the ledger needs of connectors.offsets.OffsetStore."""

    def get(self, name: str) -> Any: ...

    def put(self, name: str, value: Any) -> None: ...


def _year(target_id: str) -> str:
    return target_id.split("/", 1)[0]


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._ids: dict[str, set[str]] = {}  # per year, loaded when first needed

    def get(self, sha256: str) -> dict[str, Any] | None:
        return self.store.get(f"file:{sha256}")

    def _known(self, year: str) -> set[str]:
        if year not in self._ids:
            self._ids[year] = set(self.store.get(f"ids:{year}") or [])
        return self._ids[year]

    def published(self, target_id: str) -> bool:
        """An earlier file already carried this id (so a new value is an update)."""
        return target_id in self._known(_year(target_id))

    def record(self, sha256: str, entry: dict[str, Any], ids: Iterable[str]) -> None:
        # The file first: if the ids do not follow (a crash), later files only call a
        # re-issued target `c` instead of `u`; the file itself is never read again.
        self.store.put(f"file:{sha256}", {**entry, "at": _now()})
        new: dict[str, set[str]] = {}
        for target_id in ids:
            if not self.published(target_id):
                new.setdefault(_year(target_id), set()).add(target_id)
        for year, added in new.items():
            known = self._known(year) | added
            self.store.put(f"ids:{year}", sorted(known))
            self._ids[year] = known

    def record_redrop(self, sha256: str, entry: dict[str, Any], name: str) -> None:
        redrops = [*entry.get("redrops", []), {"name": name, "at": _now()}]
        self.store.put(f"file:{sha256}", {**entry, "redrops": redrops})


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
