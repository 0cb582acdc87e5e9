"""Which files in the drop directory are complete and may be read.

Writers drop atomically (write `name.part` or a dotfile, then rename), and a file is read only
once its size and mtime are the same in two scans in a row, for writers that do not. Office
lock files, reports this connector writes and the `done/` folder are never candidates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .reader import KINDS
from .report import REPORT_SUFFIX

IN_PROGRESS = (".part", ".tmp")
# Dotfiles (LibreOffice's .~lock.*#) and Office's ~$ owner files of a workbook open in Excel.
HIDDEN = (".", "~$")
DONE_DIR = "done"


@dataclass(frozen=True)
class Seen:
    """A file as one scan saw it."""

    path: Path
    size: int
    mtime_ns: int

    @property
    def signature(self) -> tuple[int, int]:
        return (self.size, self.mtime_ns)


def kind_of(name: str) -> str | None:
    """csv or xlsx for a file this connector reads, None for one it leaves alone."""
    lowered = name.lower()
    if name.startswith(HIDDEN) or lowered.endswith(IN_PROGRESS) or lowered.endswith(REPORT_SUFFIX):
        return None
    return KINDS.get(os.path.splitext(lowered)[1])


def list_files(directory: Path) -> list[Seen]:
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if not kind_of(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # renamed away between listing and stat
                continue
            found.append(Seen(Path(entry.path), stat.st_size, stat.st_mtime_ns))
    return found


class Stability:
    """Remembers the last scan; a file is ready when a scan sees it unchanged."""

    def __init__(self) -> None:
        self._last: dict[Path, tuple[int, int]] = {}

    def ready(self, scan: list[Seen]) -> list[Seen]:
        """Files unchanged since the previous scan (and not empty), oldest first, so a
        corrected export dropped after the first one is also applied after it."""
        previous, self._last = self._last, {seen.path: seen.signature for seen in scan}
        stable = [s for s in scan if s.size > 0 and previous.get(s.path) == s.signature]
        return sorted(stable, key=lambda s: (s.mtime_ns, s.path.name))

    def forget(self, path: Path) -> None:
        """After a file moved away: a new file under the same name starts over."""
        self._last.pop(path, None)

    @property
    def pending(self) -> int:
        return len(self._last)
