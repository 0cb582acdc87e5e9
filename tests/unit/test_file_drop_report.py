"""The rejected-rows report written beside a processed file."""

from __future__ import annotations

import csv
from pathlib import Path

from opdbus.connectors.file_drop.report import Rejected, report_path, write_report


def test_report_lists_line_field_rule_and_the_original_cells(tmp_path: Path) -> None:
    path = report_path(tmp_path / "target_2025.xlsx")
    assert path.name == "target_2025.xlsx.rejected.csv"
    write_report(
        path,
        ["tahun", "target"],
        [
            Rejected(
                3,
                "target",
                "must be a number",
                "field 'target': ...",
                {"tahun": 2025, "target": "85 %"},
            ),
            Rejected(
                7,
                None,
                "has 1 more cell(s) than the header",
                "...",
                {"tahun": "2025"},
                extra=("stray",),
            ),
        ],
    )
    with path.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines == [
        ["line", "field", "rule", "message", "tahun", "target"],
        ["3", "target", "must be a number", "field 'target': ...", "2025", "85 %"],
        ["7", "", "has 1 more cell(s) than the header", "...", "2025", "", "stray"],
    ]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
