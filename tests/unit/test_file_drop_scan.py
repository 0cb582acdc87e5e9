"""Which files in the drop directory are complete and may be read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opdbus.connectors.file_drop.scan import Seen, Stability, kind_of, list_files


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("target_2025.csv", "csv"),
        ("TARGET_2025.XLSX", "xlsx"),
        ("target_2025.csv.part", None),
        ("target_2025.xlsx.tmp", None),
        (".target_2025.csv", None),
        ("~$target_2025.xlsx", None),  # Excel's owner file while the workbook is open
        ("target_2025.csv.rejected.csv", None),
        ("catatan.txt", None),
    ],
)
def test_only_finished_csv_and_xlsx_files_are_candidates(name: str, kind: str | None) -> None:
    assert kind_of(name) == kind


def seen(name: str, size: int = 10, mtime_ns: int = 1) -> Seen:
    return Seen(Path(name), size, mtime_ns)


def test_a_file_is_ready_once_two_scans_in_a_row_see_it_unchanged() -> None:
    stability = Stability()
    assert stability.ready([seen("a.csv", 10, 1)]) == []
    assert stability.ready([seen("a.csv", 20, 2)]) == []  # still growing
    assert stability.ready([seen("a.csv", 20, 3)]) == []  # rewritten, same size
    assert stability.ready([seen("a.csv", 20, 3)]) == [seen("a.csv", 20, 3)]


def test_an_empty_file_is_never_ready() -> None:
    stability = Stability()
    stability.ready([seen("a.csv", 0)])
    assert stability.ready([seen("a.csv", 0)]) == []


def test_ready_files_come_oldest_first() -> None:
    stability = Stability()
    scan = [seen("b.csv", mtime_ns=5), seen("c.csv", mtime_ns=1), seen("a.csv", mtime_ns=5)]
    stability.ready(scan)
    assert [s.path.name for s in stability.ready(scan)] == ["c.csv", "a.csv", "b.csv"]


def test_a_forgotten_file_starts_over() -> None:
    stability = Stability()
    stability.ready([seen("a.csv")])
    stability.forget(Path("a.csv"))
    assert stability.ready([seen("a.csv")]) == []


def test_listing_skips_folders_parts_and_reports(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv.part", "a.csv.rejected.csv", ".c.csv"):
        (tmp_path / name).write_text("x")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "d.csv").write_text("x")
    (tmp_path / "folder.csv").mkdir()
    os.symlink(tmp_path / "a.csv", tmp_path / "link.csv")
    assert [s.path.name for s in list_files(tmp_path)] == ["a.csv"]
