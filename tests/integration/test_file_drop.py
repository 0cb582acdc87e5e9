"""File-drop connector on the real stack: a temporary drop directory, the connector as
`opdbus connect` in a subprocess, its own topics."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from opdbus.config import Config

from .connector_io import (
    ConnectorProcess,
    assert_duplicates_identical,
    connector,
    dead_letters,
    drop_offsets,
    events,
    register,
    saved_offset,
    scrape,
    wait_for,
)

COLUMNS = [
    "tahun",
    "kode_opd",
    "kode_program",
    "kode_indikator",
    "nama_indikator",
    "satuan",
    "target",
    "arah",
]
OPDS = ["dinkes", "disdik", "dpupr", "dinsos", "dishub"]


def target(n: int, **values: Any) -> dict[str, Any]:
    return {
        "tahun": 2025,
        "kode_opd": OPDS[n % len(OPDS)],
        "kode_program": "1.02.02",
        "kode_indikator": f"IKU-{n:04d}",
        "nama_indikator": "Persentase balita gizi buruk yang mendapat perawatan",
        "satuan": "persen",
        "target": 80.5 + n % 10,
        "arah": "NAIK",
        **values,
    }


def csv_bytes(rows: list[dict[str, Any]], columns: list[str] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue().encode()


def xlsx_bytes(rows: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row.get(c) for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def content(kind: str, rows: list[dict[str, Any]]) -> bytes:
    return xlsx_bytes(rows) if kind == "xlsx" else csv_bytes(rows)


def drop(directory: Path, name: str, data: bytes) -> Path:
    """As Bappeda's export does: write `name.part`, then rename."""
    part = directory / f"{name}.part"
    part.write_bytes(data)
    path = directory / name
    os.replace(part, path)
    return path


def sha16(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass
class FileDrop:
    config: Config
    source: str
    topic: str
    dlq: str
    directory: Path
    process: ConnectorProcess
    names: list[str] = field(default_factory=list)

    def events(self, serde) -> list[dict[str, Any]]:
        return events(serde, self.config, self.topic)

    def taken(self, *names: str) -> bool:
        """Every named file moved to done/."""
        return all((self.directory / "done" / n).exists() for n in names) and not any(
            (self.directory / n).exists() for n in names
        )


@pytest.fixture
def file_drop(tmp_path, config: Config, serde, new_topic) -> Iterator[FileDrop]:
    topic = new_topic("test.file_drop.target")
    register(serde, topic, "target")
    dlq = new_topic("test.file_drop.dlq")
    directory = tmp_path / "drop" / "bappeda"
    directory.mkdir(parents=True)
    source = f"perencanaan_{uuid.uuid4().hex[:8]}"
    spec = {
        "connector": "file_drop",
        "opd": "bappeda",
        "system": "perencanaan",
        "directory": str(directory),
        "interval_s": 0.2,
        "topic": topic,
        "key": ["id"],
    }
    process = connector(tmp_path, source, spec, {topic: "target"}, dlq)
    setup = FileDrop(config, source, topic, dlq, directory, process)
    try:
        yield setup
    finally:
        if process.alive():
            process.kill()
        drop_offsets(config, source)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_rows_of_a_dropped_file_are_published_with_file_and_line(
    file_drop: FileDrop, serde, kind: str
) -> None:
    rows = [target(n) for n in range(3)]
    data = content(kind, rows)
    name = f"target_dinkes_2025.{kind}"
    file_drop.process.start()
    drop(file_drop.directory, name, data)
    found = wait_for("three events", lambda: (e := file_drop.events(serde)) and len(e) >= 3 and e)
    assert file_drop.process.stop() == 0

    assert len(found) == 3
    by_line = {e["source"]["position"]: e for e in found}
    assert set(by_line) == {f"{sha16(data)}:{line}" for line in (2, 3, 4)}  # header is line 1
    second = by_line[f"{sha16(data)}:3"]
    assert second["op"] == "c"
    assert second["after"]["id"] == f"2025/{rows[1]['kode_opd']}/IKU-0001"
    assert second["after"]["tahun"] == 2025 and second["after"]["target"] == rows[1]["target"]
    assert second["source"]["table"] == name
    assert file_drop.taken(name)
    assert not list((file_drop.directory / "done").glob("*.rejected.csv"))


def test_a_target_issued_again_in_a_later_file_is_an_update(file_drop: FileDrop, serde) -> None:
    first = csv_bytes([target(1, target=80.0), target(2)])
    revised = csv_bytes([target(1, target=85.0)])  # APBD-P: the same indicator, a new value
    file_drop.process.start()
    drop(file_drop.directory, "target_2025.csv", first)
    wait_for("the first file", lambda: len(file_drop.events(serde)) == 2)
    drop(file_drop.directory, "target_2025_perubahan.csv", revised)
    wait_for("the revision", lambda: len(file_drop.events(serde)) == 3)
    assert file_drop.process.stop() == 0

    found = {e["source"]["position"]: e for e in file_drop.events(serde)}
    original, update = found[f"{sha16(first)}:2"], found[f"{sha16(revised)}:2"]
    assert original["after"]["id"] == update["after"]["id"]
    assert (original["op"], update["op"]) == ("c", "u")
    assert (original["after"]["target"], update["after"]["target"]) == (80.0, 85.0)
    assert update["source"]["ts_ms"] >= original["source"]["ts_ms"]  # the later export


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_rejected_rows_reach_the_dlq_and_a_report_with_file_line_and_reason(
    file_drop: FileDrop, serde, kind: str
) -> None:
    rows = [
        target(0),
        target(1, arah=None),  # line 3: a required cell is empty
        target(2, target="85 %"),  # line 4: text where a number belongs
        target(3),
        target(4, kode_opd="dinas_fiktif"),  # line 6: not a configured OPD (opdbus.rules)
        target(0),  # line 7: same id as line 2
        target(5),
    ]
    data = content(kind, rows)
    name = f"target_2025.{kind}"
    file_drop.process.start()
    drop(file_drop.directory, name, data)
    wait_for("the file to be taken", lambda: file_drop.taken(name))
    parked = wait_for(
        "four dead letters",
        lambda: (d := dead_letters(file_drop.config, file_drop.dlq)) and len(d) >= 4 and d,
    )
    assert file_drop.process.stop() == 0

    published = file_drop.events(serde)
    assert sorted(e["source"]["position"] for e in published) == [
        f"{sha16(data)}:{line}" for line in (2, 5, 8)
    ]
    expected = {
        "3": ("arah", "is required"),
        "4": ("target", "must be a number"),
        "6": ("kode_opd", "is not a configured OPD slug"),
        "7": ("id", "repeats the id of line 2"),
    }
    assert {
        h["opdbus.dlq.context.line"]: (h["opdbus.dlq.error.field"], h["opdbus.dlq.error.message"])
        for h, _ in parked
    }.keys() == expected.keys()
    for headers, payload in parked:
        line = headers["opdbus.dlq.context.line"]
        field_name, rule = expected[line]
        assert headers["opdbus.dlq.context.file"] == name
        assert headers["opdbus.dlq.error.field"] == field_name
        assert rule in headers["opdbus.dlq.error.message"]
        assert payload["kode_indikator"] == rows[int(line) - 2]["kode_indikator"]

    report = file_drop.directory / "done" / f"{name}.rejected.csv"
    with report.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert [(r["line"], r["field"]) for r in lines] == [
        (line, field_name) for line, (field_name, _) in expected.items()
    ]
    assert lines[1]["rule"] == "must be a number" and lines[1]["target"] == "85 %"
    assert lines[2]["kode_opd"] == "dinas_fiktif"


def test_the_same_file_dropped_again_under_any_name_publishes_nothing_new(
    file_drop: FileDrop, serde
) -> None:
    data = csv_bytes([target(n) for n in range(5)])
    file_drop.process.start()
    drop(file_drop.directory, "target_2025.csv", data)
    wait_for("the first drop", lambda: file_drop.taken("target_2025.csv"))
    wait_for("its five events", lambda: len(file_drop.events(serde)) == 5)

    drop(file_drop.directory, "target_2025.csv", data)  # the same export again
    drop(file_drop.directory, "salinan target 2025.csv", data)  # a copy under another name
    wait_for(
        "both re-drops to be set aside",
        lambda: (
            not list(file_drop.directory.glob("*.csv"))
            and len(list((file_drop.directory / "done").glob("*.csv"))) == 3
        ),
    )
    redropped = [
        value
        for labels, value in scrape(file_drop.process, "opdbus_file_drop_files_total")
        if labels == {"source": file_drop.source, "outcome": "redropped"}
    ]
    assert file_drop.process.stop() == 0

    assert len(file_drop.events(serde)) == 5
    assert redropped == [2.0]
    sha256 = hashlib.sha256(data).hexdigest()
    entry = saved_offset(file_drop.config, file_drop.source, f"file:{sha256}")
    assert entry["published"] == 5
    assert [r["name"] for r in entry["redrops"]] == ["target_2025.csv", "salinan target 2025.csv"]


def test_part_files_dotfiles_and_a_file_still_being_written_are_not_read(
    file_drop: FileDrop, serde
) -> None:
    rows = [target(n) for n in range(40)]
    data = csv_bytes(rows)
    (file_drop.directory / "target_2025.csv.part").write_bytes(data)
    (file_drop.directory / ".~lock.target_2025.csv").write_bytes(data)
    file_drop.process.start()
    growing = file_drop.directory / "target_growing.csv"
    with growing.open("wb") as handle:
        for start in range(0, len(data), 40):  # a writer that does not rename: 40 bytes a time
            handle.write(data[start : start + 40])
            handle.flush()
            time.sleep(0.06)  # less than a scan interval (0.2 s): never the same twice
    wait_for("the finished file", lambda: file_drop.taken("target_growing.csv"))
    time.sleep(1)  # several more scans of the .part and the dotfile
    assert file_drop.process.stop() == 0

    found = file_drop.events(serde)
    assert len(found) == 40, "the file was read once, complete"
    assert {e["source"]["position"].split(":")[0] for e in found} == {sha16(data)}
    assert (file_drop.directory / "target_2025.csv.part").exists()
    assert (file_drop.directory / ".~lock.target_2025.csv").exists()
    assert not dead_letters(file_drop.config, file_drop.dlq)


class Exports(threading.Thread):
    """Bappeda at work: exports dropped one after another, CSV or XLSX, some with bad rows,
    now and then the same export again."""

    def __init__(self, directory: Path, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.directory, self.stop, self.random = directory, stop, random.Random(7)
        self.valid: dict[str, set[int]] = {}  # sha16 -> lines that must arrive
        self.bad: dict[str, set[int]] = {}  # sha16 -> lines that must be dead-lettered
        self.files: list[str] = []
        self.redrops = 0

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            if not (self.files and self.random.random() < 0.1 and self.redrop(n)):
                self.export(n)
            n += 1
            time.sleep(0.03)

    def redrop(self, n: int) -> bool:
        """The same export again, once the connector has taken it."""
        name = self.random.choice(self.files)
        try:
            again = (self.directory / "done" / name).read_bytes()
        except FileNotFoundError:
            return False
        drop(self.directory, f"ulang_{n}_{name}", again)
        self.redrops += 1
        return True

    def export(self, n: int) -> None:
        kind = "xlsx" if n % 3 == 0 else "csv"
        rows = [target(n * 100 + i) for i in range(20)]
        bad = set()
        for i in self.random.sample(range(20), 2):
            rows[i] = {**rows[i], "satuan": None}
            bad.add(i + 2)
        data = content(kind, rows)
        name = f"target_{n:04d}.{kind}"
        drop(self.directory, name, data)
        self.valid[sha16(data)] = set(range(2, 22)) - bad
        self.bad[sha16(data)] = bad
        self.files.append(name)


def test_kill_9_during_a_steady_stream_of_drops_then_restart_delivers_every_valid_row(
    file_drop: FileDrop, serde
) -> None:
    stop = threading.Event()
    exports = Exports(file_drop.directory, stop)
    file_drop.process.start()
    exports.start()
    try:
        time.sleep(4)
        file_drop.process.kill()
        time.sleep(1.5)  # exports keep coming while the connector is down
        file_drop.process.start()
        time.sleep(3)
    finally:
        stop.set()
        exports.join(30)
    assert len(exports.valid) > 50 and exports.redrops > 3
    expected = {f"{sha}:{line}" for sha, lines in exports.valid.items() for line in lines}
    wait_for(
        "every valid row",
        lambda: expected <= {e["source"]["position"] for e in file_drop.events(serde)},
        timeout_s=90,
    )
    wait_for(
        "every file taken", lambda: not [p for p in file_drop.directory.iterdir() if p.is_file()]
    )
    assert file_drop.process.stop() == 0

    by_id = assert_duplicates_identical(file_drop.events(serde))
    assert {e["source"]["position"] for e in by_id.values()} == expected
    parked = {
        (h["opdbus.dlq.context.sha256"][:16], int(h["opdbus.dlq.context.line"]))
        for h, _ in dead_letters(file_drop.config, file_drop.dlq)
    }
    assert parked == {(sha, line) for sha, lines in exports.bad.items() for line in lines}
    assert "Traceback" not in file_drop.process.log()
