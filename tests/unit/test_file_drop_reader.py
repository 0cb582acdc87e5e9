"""Reading Bappeda's CSV and XLSX exports into rows with the line numbers a person sees."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from opdbus.connectors.file_drop.reader import FileError, read_csv, read_xlsx


def test_csv_header_is_line_1_and_rows_keep_their_line_numbers_across_blank_lines() -> None:
    sheet = read_csv(b"tahun,kode_opd\n2025,dinkes\n\n,,\n2026,dpupr\n")
    assert (sheet.header, sheet.header_line) == (["tahun", "kode_opd"], 1)
    assert [(r.line, r.values) for r in sheet.rows] == [
        (2, {"tahun": "2025", "kode_opd": "dinkes"}),
        (5, {"tahun": "2026", "kode_opd": "dpupr"}),
    ]


def test_a_quoted_cell_spanning_lines_numbers_the_row_where_it_starts() -> None:
    text = b'a,b\n1,"two\nlines"\n3,x\n'
    assert [r.line for r in read_csv(text).rows] == [2, 4]


def test_csv_from_excel_with_bom_semicolons_and_padded_headers_is_read() -> None:
    sheet = read_csv("\ufeff Tahun ;Target\n2025; 85,5 \n".encode())
    assert sheet.header == ["tahun", "target"]
    assert sheet.rows[0].values == {"tahun": "2025", "target": "85,5"}


def test_short_rows_get_empty_cells_and_long_rows_keep_their_extra_cells() -> None:
    sheet = read_csv(b"a,b,c\n1\n1,2,3,4,\n")
    assert sheet.rows[0].values == {"a": "1", "b": None, "c": None}
    assert sheet.rows[1].extra == ["4"]


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"tahun,target\n2025,\xff\n", "is not UTF-8 text"),
        (b"", "has no header row"),
        (b"\n ,\n", "has no header row"),
        (b"tahun,Tahun\n", "header repeats a column"),
    ],
)
def test_unusable_csv_files_are_rejected_as_a_whole(data: bytes, rule: str) -> None:
    with pytest.raises(FileError) as caught:
        read_csv(data)
    assert caught.value.rule == rule


def workbook(rows: dict[int, list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row, cells in rows.items():
        for column, value in enumerate(cells, start=1):
            sheet.cell(row=row, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_rows_are_numbered_by_sheet_row_and_numbers_stay_numbers() -> None:
    data = workbook(
        {1: ["Tahun", "kode_opd", "target"], 2: [2025.0, " dinkes ", 85.5], 5: [2026, "dpupr", 90]}
    )
    sheet = read_xlsx(data)
    assert sheet.header == ["tahun", "kode_opd", "target"]
    assert [(r.line, r.values) for r in sheet.rows] == [
        (2, {"tahun": 2025, "kode_opd": "dinkes", "target": 85.5}),
        (5, {"tahun": 2026, "kode_opd": "dpupr", "target": 90}),
    ]
    assert isinstance(sheet.rows[0].values["tahun"], int)


def test_xlsx_starting_below_row_1_keeps_real_row_numbers() -> None:
    sheet = read_xlsx(workbook({3: ["tahun"], 4: [2025]}))
    assert (sheet.header_line, sheet.rows[0].line) == (3, 4)


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"tahun,target\n", "is not an XLSX workbook"),
        (workbook({1: ["tahun"]})[:200], "is not an XLSX workbook"),
    ],
)
def test_unreadable_workbooks_are_rejected_as_a_whole(data: bytes, rule: str) -> None:
    with pytest.raises(FileError) as caught:
        read_xlsx(data)
    assert caught.value.rule == rule
