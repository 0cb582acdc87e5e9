"""Bappeda's planning spreadsheets: each OPD's yearly indicator targets exported as CSV or
XLSX into the file-drop directory, written atomically (`<name>.part`, then renamed)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from opdbus.rules import opds
from opdbus.simulator.clock import WIB, local_date
from opdbus.simulator.context import Context
from opdbus.simulator.faults import FILE_ROW
from opdbus.simulator.indikator import indikator_of, kode_program, target_value

SYSTEM, TABLE = "bappeda", "target"
COLUMNS = (
    "tahun",
    "kode_opd",
    "kode_program",
    "kode_indikator",
    "nama_indikator",
    "satuan",
    "target",
    "arah",
)
# Values typed where a number belongs, as seen in real planning spreadsheets.
WRONG_TYPES = {
    "target": ("85 %", "delapan puluh", "±90", "n/a"),
    "tahun": ("TA 2026", "2026/2027", "dua ribu"),
}


def number_text(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def write_atomically(path: Path, write: Any) -> None:
    """`write(part_path)` then fsync and rename: a reader never sees a half-written file."""
    part = path.with_name(path.name + ".part")
    write(part)
    with part.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(part, path)


class Bappeda:
    def __init__(self, ctx: Context, directory: Path) -> None:
        self.ctx = ctx
        self.directory = directory
        self.spec = ctx.settings["bappeda"]
        self.rng = ctx.rng(SYSTEM)
        self.faults = ctx.faults(SYSTEM)
        self.fault_rng = ctx.rng(SYSTEM, "fault-values")
        self.revisions: dict[tuple[str, int], int] = {}
        self.exports = 0
        self.last: tuple[Path, bytes] | None = None

    def handlers(self) -> dict[str, Any]:
        return {"ekspor_target": self.ekspor_target}

    def rows(self, at: dt.datetime) -> tuple[str, int, list[dict[str, Any]]]:
        """One OPD's targets for this year (or, from July, next year's draft RKPD)."""
        rng = self.rng
        opd = rng.choice(opds())
        today = local_date(at)
        tahun = today.year + (1 if today.month >= 7 and rng.random() < 0.5 else 0)
        key = (opd.slug, tahun)
        # The first export of a year is revision 0; later ones sometimes revise the targets.
        if key in self.revisions and rng.random() < 0.3:
            self.revisions[key] += 1
        revision = self.revisions.setdefault(key, 0)
        bounds = self.ctx.settings["indikator"]["target_revision"]
        rows = [
            {
                "tahun": tahun,
                "kode_opd": opd.slug,
                "kode_program": kode_program(opd),
                "kode_indikator": ind.kode,
                "nama_indikator": ind.nama,
                "satuan": ind.satuan,
                "target": target_value(self.ctx.seed, tahun, opd, ind, revision, bounds),
                "arah": ind.arah,
            }
            for ind in indikator_of(self.ctx.settings, opd)
        ]
        return opd.slug, tahun, rows

    def _fault(self, row: dict[str, Any]) -> tuple[str, str] | None:
        kind = self.faults.pick(FILE_ROW)
        if kind == "missing_field":
            column = self.fault_rng.choice(COLUMNS)
            row[column] = None
            return kind, column
        if kind == "wrong_type":
            column = self.fault_rng.choice(tuple(WRONG_TYPES))
            row[column] = self.fault_rng.choice(WRONG_TYPES[column])
            return kind, column
        return None

    def ekspor_target(self, at: dt.datetime) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.last and self.rng.random() < self.spec["redrop_share"]:
            # Someone drops the same export again: the connector must publish nothing new.
            path, content = self.last
            write_atomically(path, lambda part: part.write_bytes(content))
            self.ctx.manifest.notes["bappeda.redrops"] += 1
            return
        opd, tahun, rows = self.rows(at)
        faults = [self._fault(row) for row in rows]
        self.exports += 1
        xlsx = self.rng.random() < self.spec["xlsx_share"]
        stamp = at.astimezone(WIB).strftime("%Y%m%dT%H%M%S")
        path = (
            self.directory
            / f"target_{opd}_{tahun}_{stamp}_{self.exports:05d}.{'xlsx' if xlsx else 'csv'}"
        )
        write_atomically(path, lambda part: (_write_xlsx if xlsx else _write_csv)(part, rows))
        self.last = (path, path.read_bytes())
        for line, fault in enumerate(faults, start=2):  # line 1 is the header
            if fault:
                self.ctx.bad(
                    SYSTEM, TABLE, f"{path.name}:{line}", fault[0], fault[1], "ekspor_target"
                )
        self.ctx.count(SYSTEM, TABLE, len(rows))
        self.ctx.manifest.notes["bappeda.files"] += 1


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    return number_text(value) if isinstance(value, float) else str(value)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell_text(row[column]) for column in COLUMNS])
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _write_xlsx(path: Path, rows: list[dict[str, Any]]) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Target Kinerja")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row[column] for column in COLUMNS])
    with path.open("wb") as handle:
        book.save(handle)
