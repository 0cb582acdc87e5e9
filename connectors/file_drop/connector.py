"""The file-drop loop: take each complete file once, publish its valid rows, report the rest,
and only after Kafka acknowledged them record the file and move it to `done/`.

Crash points and what a restart does:
- before the ack: the file is still in the drop directory and unrecorded, so it is read
  again; positions are `<sha256 prefix>:<line>`, so its events come again with the same ids;
- after the ledger write, before the move: the file's hash is known, so it is only moved.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from opdbus.connectors.offsets import OffsetStore
from opdbus.connectors.publisher import DeliveryError, Publisher
from opdbus.envelope import Source, make_event

from .ledger import Ledger
from .metrics import FILES, PENDING
from .reader import FileError, Row, Sheet, read
from .report import Rejected, report_path, write_report
from .scan import DONE_DIR, Seen, Stability, kind_of, list_files
from .validate import ID_FIELD, REJECTIONS, TargetRows

log = logging.getLogger("opdbus.connect.file_drop")

RETRY_S = 2.0
SHA_PREFIX = 16  # hex digits of the content hash in positions: 64 bits


@dataclass(frozen=True)
class Taken:
    name: str
    sha256: str
    mtime_ms: int


class FileDropConnector:
    def __init__(
        self,
        name: str,
        spec: dict[str, Any],
        publisher: Publisher,
        directory: Path,
        rows: TargetRows,
        open_store: Callable[[], OffsetStore],
    ) -> None:
        self.name = name
        self.opd = spec["opd"]
        self.system = spec["system"]
        self.topic = spec["topic"]
        self.interval_s = float(spec.get("interval_s", 1))
        self.directory = directory
        self.database = spec.get("database") or directory.name
        self.done = directory / DONE_DIR
        self.publisher = publisher
        self.rows = rows
        self._open_store = open_store
        self._store: OffsetStore | None = None
        self._ledger: Ledger | None = None
        self.stability = Stability()
        self.done.mkdir(parents=True, exist_ok=True)

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._store = self._open_store()
            self._ledger = Ledger(self._store)
        return self._ledger

    def run(self, stop: threading.Event) -> None:
        log.info("watching %s for %s", self.directory, self.topic)
        try:
            while not stop.is_set():
                try:
                    self.scan(stop)
                except DeliveryError as exc:
                    log.warning(
                        "Kafka did not acknowledge a file's rows, reading it again: %s", exc
                    )
                except psycopg.OperationalError as exc:
                    log.warning("offset store unavailable, retrying: %s", exc)
                    self._close()
                    stop.wait(RETRY_S)
                stop.wait(self.interval_s)
        finally:
            self._close()

    def scan(self, stop: threading.Event) -> int:
        """One pass over the directory; returns the number of files taken."""
        seen = list_files(self.directory)
        ready = self.stability.ready(seen)
        PENDING.labels(self.name).set(len(seen))
        taken = 0
        for file in ready:
            if stop.is_set():
                break
            taken += self.take(file)
        PENDING.labels(self.name).set(len(seen) - taken)
        return taken

    def take(self, file: Seen) -> bool:
        """Read, publish and move one file; False if it changed since the scan saw it."""
        try:
            data = file.path.read_bytes()
            unchanged = Seen(file.path, *_signature(file.path)) == file
        except FileNotFoundError:
            return False
        except PermissionError as exc:  # left for whoever owns it; tried again next scan
            log.warning("%s: cannot read: %s", file.path.name, exc)
            return False
        if not unchanged:  # still being written after all: the next scans decide again
            return False
        taken = Taken(file.path.name, hashlib.sha256(data).hexdigest(), file.mtime_ns // 10**6)
        known = self.ledger.get(taken.sha256)
        if known is not None:
            self._redropped(file.path, taken, known)
            return True
        kind = kind_of(file.path.name)
        assert kind is not None  # list_files only lists readable kinds
        sheet: Sheet | None = None
        try:
            sheet = read(kind, data)
            missing = self.rows.missing_columns(sheet.header)
            if missing:
                raise FileError("column missing from the header", ", ".join(missing), missing[0])
        except FileError as exc:
            line = sheet.header_line if sheet is not None and exc.field else 0
            rejected = [Rejected(line, exc.field, exc.rule, str(exc), {})]
            self.publisher.dead_letter(
                f"{taken.name}:{line}", {"file": taken.name}, exc, self._context(taken, line)
            )
            self.publisher.commit()
            self._finish(file.path, taken, [], rejected, header=[], outcome="unreadable")
            return True
        published, rejected = self._publish(taken, sheet)
        self.publisher.commit()  # raises unless every row and dead letter was acknowledged
        self._finish(file.path, taken, published, rejected, sheet.header, outcome="published")
        return True

    def _publish(self, taken: Taken, sheet: Sheet) -> tuple[list[str], list[Rejected]]:
        self.rows.start_file()
        published: list[str] = []
        rejected: list[Rejected] = []
        for row in sheet.rows:
            try:
                record = self.rows.record(row)
            except REJECTIONS as exc:
                rejected.append(
                    Rejected(row.line, exc.field, exc.rule, str(exc), row.values, tuple(row.extra))
                )
                payload = {**row.values, **({"_extra": row.extra} if row.extra else {})}
                self.publisher.dead_letter(
                    f"{taken.name}:{row.line}", payload, exc, self._context(taken, row.line)
                )
                continue
            target_id = record[ID_FIELD]
            op = "u" if self.ledger.published(target_id) else "c"
            event = make_event(op, self._source(taken, row), after=record)
            self.publisher.publish(self.topic, target_id, event)
            published.append(target_id)
        return published, rejected

    def _source(self, taken: Taken, row: Row) -> Source:
        return Source(
            opd=self.opd,
            system=self.system,
            database=self.database,
            table=taken.name,
            position=f"{taken.sha256[:SHA_PREFIX]}:{row.line}",
            ts_ms=taken.mtime_ms,  # when the export was written: the file's "commit"
            tx_id=taken.sha256[:SHA_PREFIX],  # every row of one file shares it
        )

    def _context(self, taken: Taken, line: int) -> dict[str, Any]:
        return {
            "file": taken.name,
            "line": line,
            "sha256": taken.sha256,
            "directory": self.database,
        }

    def _finish(
        self,
        path: Path,
        taken: Taken,
        published: list[str],
        rejected: list[Rejected],
        header: list[str],
        outcome: str,
    ) -> None:
        self.done.mkdir(exist_ok=True)  # in case someone tidied it away
        target = _free_name(self.done, taken.name, taken.sha256)
        if rejected:
            write_report(report_path(target), header, rejected)
        else:  # a report left by an earlier file of that name would mislead
            report_path(target).unlink(missing_ok=True)
        self.ledger.record(
            taken.sha256,
            {
                "name": taken.name,
                "done": target.name,
                "published": len(published),
                "rejected": len(rejected),
            },
            published,
        )
        os.replace(path, target)
        self.stability.forget(path)
        FILES.labels(self.name, outcome).inc()
        log.info(
            "%s: %d rows published, %d rejected%s",
            taken.name,
            len(published),
            len(rejected),
            f" (report {report_path(target).name})" if rejected else "",
        )

    def _redropped(self, path: Path, taken: Taken, known: dict[str, Any]) -> None:
        self.done.mkdir(exist_ok=True)
        first_done = self.done / known["done"]
        if not first_done.exists() and path.name == known["name"]:
            # Recorded, then stopped before the move: finish the move, nothing else.
            os.replace(path, first_done)
        else:
            target = _free_name(self.done, taken.name, taken.sha256)
            self.ledger.record_redrop(taken.sha256, known, taken.name)
            os.replace(path, target)
            FILES.labels(self.name, "redropped").inc()
            log.info(
                "%s: same content as %s, already published; moved to %s",
                taken.name,
                known["name"],
                target.name,
            )
        self.stability.forget(path)

    def _close(self) -> None:
        if self._store is not None:
            with contextlib.suppress(psycopg.Error):
                self._store.close()
        self._store = self._ledger = None


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _free_name(done: Path, name: str, sha256: str) -> Path:
    """`done/<name>`, or `done/<stem>.<hash>[.n]<ext>` when a file holds it. A report with no
    file beside it is left by a crash before the move, and is written again."""
    stem, ext = os.path.splitext(name)
    candidates = itertools.chain(
        [name, f"{stem}.{sha256[:12]}{ext}"],
        (f"{stem}.{sha256[:12]}.{n}{ext}" for n in itertools.count(2)),
    )
    for candidate in candidates:
        target = done / candidate
        if not target.exists():
            return target
    raise AssertionError("unreachable")
