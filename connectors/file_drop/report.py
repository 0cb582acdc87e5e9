"""The rejected-rows report written beside a processed file: `<file>.rejected.csv`.

One line per rejected row (or one for a file that could not be read at all): the line number
in the original file, the field and the rule it broke, the full message, then the row's
original cells (named columns, then any extra cells), so the person who made the export can
fix it in place and drop it again.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPORT_SUFFIX = ".rejected.csv"
COLUMNS = ["line", "field", "rule", "message"]


@dataclass(frozen=True)
class Rejected:
    line: int
    field: str | None
    rule: str
    message: str
    values: dict[str, Any]
    extra: tuple[Any, ...] = ()  # cells right of the header, kept after the named columns


def report_path(data_file: Path) -> Path:
    return data_file.with_name(data_file.name + REPORT_SUFFIX)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def write_report(path: Path, header: list[str], rejected: Iterable[Rejected]) -> None:
    """Written to a temporary name, then renamed: a reader never sees half a report."""
    part = path.with_name(path.name + ".tmp")
    with part.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS + header)
        for item in rejected:
            writer.writerow(
                [item.line, item.field or "", item.rule, item.message]
                + [_text(item.values.get(name)) for name in header]
                + [_text(value) for value in item.extra]
            )
    os.replace(part, path)
