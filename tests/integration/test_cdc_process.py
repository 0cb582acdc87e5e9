"""`opdbus connect` as a process: kill -9 mid-stream and mid-snapshot lose nothing and duplicate
only as the same event; SIGTERM stops cleanly and a restart neither re-snapshots nor repeats."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from . import test_cdc_harness as harness
from .cli import OPDBUS
from .kafka_io import topic_size
from .test_cdc_harness import Cdc, events, nik, read_topic, wait_for

# The harness's fixtures, used by name in the tests below.
cdc = harness.cdc
source_db = harness.source_db


class Process:
    """One `opdbus connect <source>` run, its output kept in a file for failures."""

    def __init__(self, run: Cdc, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [OPDBUS, "connect", run.source],
                env={**os.environ, **run.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout_s: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Any]:
    started: list[Process] = []

    def start(run: Cdc) -> Process:
        started.append(Process(run, tmp_path / f"{run.source}-{len(started)}.log"))
        return started[-1]

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.kill()


def wait_until_streaming(run: Cdc, process: Process, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not run.snapshot_done():
        assert process.proc.poll() is None, f"connector exited:\n{process.output()}"
        assert time.monotonic() < deadline, f"no snapshot in {timeout_s}s:\n{process.output()}"
        time.sleep(0.1)


class Writer(threading.Thread):
    """Commits small transactions of inserts and updates until stopped; every change writes a
    distinct `nama`, so each can be found again on the topic."""

    def __init__(self, run: Cdc) -> None:
        super().__init__(daemon=True)
        self.run_ = run
        self.stop = threading.Event()
        self.changes: set[tuple[str, str]] = set()  # (nik, nama) of every committed change
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(7)
        rows = 0
        try:
            with self.run_.db() as conn:
                while not self.stop.is_set():
                    done: set[tuple[str, str]] = set()
                    with conn.transaction():
                        if rng.random() < 0.1:  # now and then a bulk load: long batches
                            bulk = rng.randint(200, 1000)
                            conn.execute(
                                f"INSERT INTO {self.run_.table} (nik, no_kk, nama, "
                                "tanggal_lahir, jenis_kelamin, kode_kelurahan, status, updated_at) "
                                "SELECT '6171' || lpad(g::text, 12, '0'), '6171010101200001', "
                                "'baru-' || g, '1990-03-12', 'L', '61.71.01.1002', 'HIDUP', now() "
                                "FROM generate_series(%s::int, %s::int) g",
                                (rows, rows + bulk - 1),
                            )
                            done |= {(nik(i), f"baru-{i}") for i in range(rows, rows + bulk)}
                            rows += bulk
                        for _ in range(rng.randint(1, 20)):
                            if rows and rng.random() < 0.3:
                                key = nik(rng.randrange(rows))
                                nama = f"ubah-{uuid.uuid4().hex[:8]}"
                                conn.execute(
                                    f"UPDATE {self.run_.table} SET nama = %s WHERE nik = %s",
                                    (nama, key),
                                )
                            else:
                                key, nama = nik(rows), f"baru-{rows}"
                                self.run_.insert(conn, rows, nama)
                                rows += 1
                            done.add((key, nama))
                    self.changes |= done  # only once committed
        except BaseException as exc:
            self.error = exc

    def finish(self) -> set[tuple[str, str]]:
        self.stop.set()
        self.join(30)
        if self.error:
            raise self.error
        return self.changes


def current_lsn(run: Cdc) -> int:
    with run.db() as conn:
        return int(conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0])


def assert_duplicates_are_the_same_event(decoded: list[dict[str, Any]]) -> None:
    copies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in decoded:
        copies[event["event_id"]].append(event)
    for same in copies.values():
        first = {k: v for k, v in same[0].items() if k != "ts_ms"}
        assert all({k: v for k, v in e.items() if k != "ts_ms"} == first for e in same)
    positions = {e["source"]["position"] for e in decoded}
    assert len(positions) == len(copies)


def test_kill_9_during_a_steady_stream_loses_no_change(cdc, config, serde, processes):
    run = cdc(batch_size=200)
    first = processes(run)
    wait_until_streaming(run, first)
    writer = Writer(run)
    writer.start()
    wait_for(lambda: topic_size(config, run.topic) > 500, 60, "the stream to flow")
    first.kill()  # mid-stream: most likely mid-batch, published but the slot not yet moved
    time.sleep(1)  # the writer goes on while nothing reads
    restarted_at = topic_size(config, run.topic)
    second = processes(run)
    wait_for(lambda: topic_size(config, run.topic) > restarted_at + 500, 60, "the restart to flow")
    changes = writer.finish()
    end = current_lsn(run)
    wait_for(lambda: run.confirmed() >= end, 60, "the connector to read everything")
    assert second.terminate() == 0, second.output()

    decoded = [e for e in events(serde, read_topic(config, run.topic, at_least=len(changes)))]
    decoded = [e for e in decoded if e is not None]
    assert {(e["after"]["nik"], e["after"]["nama"]) for e in decoded} == changes
    assert len({e["event_id"] for e in decoded}) == len(changes)
    assert_duplicates_are_the_same_event(decoded)
    with run.db() as conn:
        rows = dict(conn.execute(f"SELECT nik, nama FROM {run.table}").fetchall())
    last: dict[str, str] = {}
    for e in decoded:  # per key, partition order is change order
        last[e["after"]["nik"]] = e["after"]["nama"]
    assert last == rows


def test_kill_9_during_the_snapshot_restarts_it_and_loses_no_row(cdc, config, serde, processes):
    run = cdc(batch_size=500)
    with run.db() as conn:
        conn.execute(
            f"INSERT INTO {run.table} SELECT '6171' || lpad(g::text, 12, '0'), "
            "'6171010101200001', 'Snapshot', '1990-03-12', 'L', '61.71.01.1002', 'HIDUP', now() "
            "FROM generate_series(0, 29999) g"
        )
    first = processes(run)
    wait_for(lambda: topic_size(config, run.topic) > 2000, 60, "the snapshot to start")
    first.kill()
    assert not run.snapshot_done()
    with run.db() as conn:  # while nothing runs: must arrive too
        run.insert(conn, 50_000, "Setelah Crash")
    second = processes(run)
    wait_until_streaming(run, second, 120)
    end = current_lsn(run)
    wait_for(lambda: run.confirmed() >= end, 60, "the stream to catch up")
    assert second.terminate() == 0, second.output()

    decoded = [e for e in events(serde, read_topic(config, run.topic, at_least=30001)) if e]
    snapshot_ids: dict[str, set[str]] = defaultdict(set)
    for e in decoded:
        if e["op"] == "r":
            snapshot_ids[e["after"]["nik"]].add(e["event_id"])
    assert len(snapshot_ids) == 30000 + 1  # the fresh snapshot also saw the late row
    assert all(len(ids) == 1 for ids in snapshot_ids.values())  # re-read rows: same event
    assert any(e["op"] == "c" and e["after"]["nik"] == nik(50_000) for e in decoded)
    assert "restarts with the connector" not in second.output()


def test_sigterm_stops_cleanly_and_a_restart_neither_resnapshots_nor_repeats(
    cdc, config, serde, processes
):
    run = cdc()
    with run.db() as conn:
        for i in range(300):
            run.insert(conn, i)
    first = processes(run)
    wait_until_streaming(run, first)
    with run.db() as conn:
        for i in range(300, 400):
            run.insert(conn, i)
    wait_for(lambda: topic_size(config, run.topic) >= 400, 30, "the first run's events")
    assert first.terminate() == 0, first.output()
    assert "stopped cleanly" in first.output()

    with run.db() as conn:  # while stopped
        for i in range(400, 450):
            run.insert(conn, i)
    second = processes(run)
    wait_for(lambda: topic_size(config, run.topic) >= 450, 30, "the second run's events")
    with run.db() as conn:
        run.insert(conn, 450)
    wait_for(lambda: topic_size(config, run.topic) >= 451, 30, "a change after the restart")
    assert second.terminate() == 0, second.output()

    decoded = [e for e in events(serde, read_topic(config, run.topic, at_least=451)) if e]
    ops = [e["op"] for e in decoded]
    assert ops.count("r") == 300 and ops.count("c") == 151
    assert len({e["event_id"] for e in decoded}) == len(decoded) == 451  # no event twice
    assert "snapshot of" not in second.output()


def test_slot_lag_gauge_counts_the_wal_bytes_the_slot_holds(cdc, processes):
    run = cdc(heartbeat_s=600)  # no heartbeat: the slot holds what other databases write
    process = processes(run)
    wait_until_streaming(run, process)
    port = yaml.safe_load(run.overlay.read_text())["metrics"]["ports"][f"connector-{run.source}"]

    def lag() -> float:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
        except OSError:
            return -1
        for line in body.decode().splitlines():
            if line.startswith("opdbus_replication_slot_lag_bytes{") and run.slot in line:
                return float(line.rsplit(" ", 1)[1])
        return -1

    wait_for(lambda: lag() >= 0, 30, "the slot lag gauge")
    with psycopg.connect(run.config.postgres_url("postgres"), autocommit=True) as other:
        other.execute("SELECT pg_logical_emit_message(false, 'opdbus-test', repeat('x', 300000))")
    wait_for(lambda: lag() >= 300_000, 10, "the gauge to count the held WAL")
    assert process.terminate() == 0
