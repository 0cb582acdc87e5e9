"""Keys already published from a table, so a row is `c` the first time and `u` afterwards.

Polling sees each row's current version only, never its before-image, so whether a version is
the row's first one is known only by remembering keys. Identity keys are dense integers: kept
as closed ranges they take a few numbers however large the table. Other keys are kept one by
one (costlier; the BKAD tables have integer ids).
"""

from __future__ import annotations

import bisect
from typing import Any


class KeySet:
    def __init__(self, ranges: list[list[int]] | None = None, other: list[str] | None = None):
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in ranges or []:
            self._starts.append(int(start))
            self._ends.append(int(end))
        self._other: set[str] = set(other or [])

    def __contains__(self, key: Any) -> bool:
        if isinstance(key, int) and not isinstance(key, bool):
            i = bisect.bisect_right(self._starts, key) - 1
            return i >= 0 and key <= self._ends[i]
        return str(key) in self._other

    def add(self, key: Any) -> None:
        if not isinstance(key, int) or isinstance(key, bool):
            self._other.add(str(key))
            return
        if key in self:
            return
        i = bisect.bisect_right(self._starts, key)  # ranges[i-1] ends before key
        joins_left = i > 0 and self._ends[i - 1] == key - 1
        joins_right = i < len(self._starts) and self._starts[i] == key + 1
        if joins_left and joins_right:
            self._ends[i - 1] = self._ends[i]
            del self._starts[i], self._ends[i]
        elif joins_left:
            self._ends[i - 1] = key
        elif joins_right:
            self._starts[i] = key
        else:
            self._starts.insert(i, key)
            self._ends.insert(i, key)

    @property
    def ranges(self) -> list[list[int]]:
        return [[s, e] for s, e in zip(self._starts, self._ends, strict=True)]

    def to_json(self) -> dict[str, Any]:
        return {"ranges": self.ranges, "other": sorted(self._other)}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> KeySet:
        value = value or {}
        return cls(value.get("ranges"), value.get("other"))

    def copy(self) -> KeySet:
        return KeySet(self.ranges, sorted(self._other))
