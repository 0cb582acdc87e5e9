"""Bappeda's exports as rows with their line numbers: CSV (UTF-8, header row) or XLSX (first
sheet, header row). Line numbers are what a person sees in the file: the header is line 1, a
CSV record starts on the physical line where it begins, an XLSX row is its sheet row number.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

KINDS = {".csv": "csv", ".xlsx": "xlsx"}


class FileError(ValueError):
    """The file as a whole cannot be used. `rule` is short and stable (a metric label, the
    report's rule column); `detail` says where or what exactly."""

    def __init__(self, rule: str, detail: str = "", field: str | None = None) -> None:
        super().__init__(f"{rule}: {detail}" if detail else rule)
        self.rule = rule
        self.field = field


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]  # header column -> cell (None when the row is shorter)
    extra: list[Any] = field(default_factory=list)  # non-empty cells right of the header


@dataclass(frozen=True)
class Sheet:
    header: list[str]
    header_line: int
    rows: list[Row]


def _blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _header(cells: list[Any]) -> list[str]:
    return [str(c).strip().lower() if c is not None else "" for c in cells]


def _sheet(numbered: list[tuple[int, list[Any]]]) -> Sheet:
    """The first non-blank row is the header; blank rows after it are skipped."""
    rows = iter([(line, cells) for line, cells in numbered if not _blank(cells)])
    first = next(rows, None)
    if first is None:
        raise FileError("has no header row")
    header_line, header = first[0], _header(first[1])
    named = [name for name in header if name]
    if len(set(named)) != len(named):
        raise FileError("header repeats a column", ", ".join(header))
    found = []
    for line, cells in rows:
        values = {name: cells[i] if i < len(cells) else None for i, name in enumerate(header)}
        values.pop("", None)
        extra = [c for c in cells[len(header) :] if not _blank([c])]
        found.append(Row(line, values, extra))
    return Sheet([n for n in header if n], header_line, found)


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Excel stores 2025 as 2025.0
    return value


def read_csv(data: bytes) -> Sheet:
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as exc:
        raise FileError("is not UTF-8 text", f"byte {exc.start}") from None
    first_line = text.split("\n", 1)[0]
    # Excel in an Indonesian locale saves with ';' (the decimal separator is ',').
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    numbered = []
    consumed = 0  # physical lines read so far: a quoted cell may span lines
    try:
        for cells in reader:
            numbered.append((consumed + 1, [_cell(c) for c in cells]))
            consumed = reader.line_num
    except csv.Error as exc:
        raise FileError("is not readable as CSV", f"line {reader.line_num}: {exc}") from None
    return _sheet(numbered)


def read_xlsx(data: bytes) -> Sheet:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException) as exc:
        raise FileError("is not an XLSX workbook", str(exc)) from None
    except Exception as exc:  # a damaged workbook fails in many ways inside openpyxl
        raise FileError("is a damaged XLSX workbook", f"{type(exc).__name__}: {exc}") from None
    try:
        if not book.worksheets:
            raise FileError("has no sheet")
        sheet = book.worksheets[0]
        # min_row=1: read-only mode otherwise starts at the sheet's recorded dimension
        numbered = [
            (line, [_cell(c) for c in cells])
            for line, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
        ]
    except FileError:
        raise
    except Exception as exc:  # damaged sheet XML surfaces while rows are read
        raise FileError("is a damaged XLSX workbook", f"{type(exc).__name__}: {exc}") from None
    finally:
        book.close()
    return _sheet(numbered)


def read(kind: str, data: bytes) -> Sheet:
    return read_xlsx(data) if kind == "xlsx" else read_csv(data)
