"""The CDC connector on the real stack, run in a thread: snapshot, change shapes, slot safety,
heartbeat, schema drift, dead letters. Crash and signal behaviour: test_cdc_process.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from typing import Any

import psycopg

from opdbus.connectors.cdc import connector as connector_module
from opdbus.connectors.cdc.emit import Emitter
from opdbus.connectors.cdc.lsn import parse
from opdbus.connectors.cdc.restart_points import LAG_BYTES
from opdbus.connectors.cdc.slot import Slot
from opdbus.connectors.publisher import DeliveryError, Publisher

from . import test_cdc_harness as harness
from .test_cdc_harness import events, nik, read_topic, wait_for

# The harness's fixtures, used by name in the tests below.
cdc = harness.cdc
source_db = harness.source_db


def by_key(messages, decoded) -> dict[str, list[dict[str, Any] | None]]:
    grouped: dict[str, list[dict[str, Any] | None]] = defaultdict(list)
    for msg, event in zip(messages, decoded, strict=True):
        grouped[msg.key().decode()].append(event)
    return grouped


def started_streaming(run) -> None:
    wait_for(run.snapshot_done, 60, "the snapshot")


def test_changes_made_during_the_snapshot_arrive_after_it(cdc, config, serde, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="opdbus.connect.cdc")
    run = cdc()
    with run.db() as conn:
        for i in range(1200):
            run.insert(conn, i)
    writes = {"done": False}
    real = Emitter.snapshot_row

    def snapshot_row_then_write(self, route, row, point, ts_ms):
        # The first snapshot row has been read: these commits are after the snapshot point.
        if not writes["done"]:
            writes["done"] = True
            run.execute("UPDATE {table} SET nama = 'During Snapshot' WHERE nik = %s", (nik(5),))
            run.execute("DELETE FROM {table} WHERE nik = %s", (nik(7),))
            with run.db() as conn:
                run.insert(conn, 5000, "Inserted During Snapshot")
        real(self, route, row, point, ts_ms)

    monkeypatch.setattr(Emitter, "snapshot_row", snapshot_row_then_write)
    run.start()
    started_streaming(run)
    messages = read_topic(config, run.topic, at_least=1200 + 4)
    grouped = by_key(messages, events(serde, messages))

    # psycopg 3 exported the slot's snapshot over a replication connection: an exact meeting.
    assert any("exported snapshot" in r.getMessage() for r in caplog.records)
    assert sorted(grouped) == sorted([nik(i) for i in range(1200)] + [nik(5000)])
    assert [e["op"] for e in grouped[nik(5)]] == ["r", "u"]
    assert grouped[nik(5)][0]["after"]["nama"] == "Siti Aminah"  # as of the snapshot point
    assert grouped[nik(5)][1]["after"]["nama"] == "During Snapshot"
    assert [e and e["op"] for e in grouped[nik(7)]] == ["r", "d", None]
    assert [e["op"] for e in grouped[nik(5000)]] == ["c"]
    snapshot_rows = [e for es in grouped.values() for e in es if e and e["op"] == "r"]
    assert len(snapshot_rows) == 1200
    assert all(e["source"]["snapshot"] for e in snapshot_rows)
    points = {e["source"]["position"].split(":")[0] for e in snapshot_rows}
    assert len(points) == 1
    streamed = [e for es in grouped.values() for e in es if e and e["op"] != "r"]
    assert len(streamed) == 3
    assert all(e["source"]["position"] > min(points) for e in streamed)  # sorts after


def test_insert_update_delete_and_key_change_have_debezium_shapes(cdc, config, serde):
    run = cdc()
    run.start()
    started_streaming(run)
    with run.db() as conn:
        run.insert(conn, 1, "Asli")
        conn.execute(f"UPDATE {run.table} SET nama = 'Diubah' WHERE nik = %s", (nik(1),))
        conn.execute(f"UPDATE {run.table} SET nik = %s WHERE nik = %s", (nik(2), nik(1)))
        conn.execute(f"DELETE FROM {run.table} WHERE nik = %s", (nik(2),))
        # COPY writes both rows in one WAL record (a multi-insert): one LSN, two events.
        copy = (
            f"COPY {run.table} (nik, no_kk, nama, tanggal_lahir, jenis_kelamin, "
            "kode_kelurahan, status, updated_at) FROM STDIN"
        )
        with conn.cursor().copy(copy) as rows:
            for i in (3, 4):
                rows.write_row(
                    (nik(i), "6171010101200001", "Multi", "2001-01-01", "L", "61.71.01.1002",
                     "HIDUP", "2026-11-28 10:00:00+07")
                )  # fmt: skip
        committed_at = conn.execute("SELECT now()").fetchone()[0]
    messages = read_topic(config, run.topic, at_least=9)
    decoded = events(serde, messages)
    grouped = by_key(messages, decoded)

    first = grouped[nik(1)]
    assert [e and e["op"] for e in first] == ["c", "u", "d", None]
    create, update, delete, _ = first
    assert create["before"] is None and create["after"]["nama"] == "Asli"
    assert update["before"]["nama"] == "Asli" and update["after"]["nama"] == "Diubah"
    assert delete["before"]["nama"] == "Diubah" and delete["after"] is None  # old key's delete
    second = grouped[nik(2)]
    assert [e and e["op"] for e in second] == ["c", "d", None]
    assert second[0]["after"]["nama"] == "Diubah" and second[0]["before"] is None
    # The key change's delete and create come from one WAL record: numbered 0 and 1.
    assert delete["source"]["position"].rsplit(":", 1) == [
        second[0]["source"]["position"].rsplit(":", 1)[0],
        "0",
    ]
    assert second[0]["source"]["position"].endswith(":1")
    multi = [grouped[nik(3)][0], grouped[nik(4)][0]]
    assert {e["source"]["position"].rsplit(":", 1)[1] for e in multi} == {"0", "1"}
    assert multi[0]["source"]["tx_id"] == multi[1]["source"]["tx_id"]

    real = [e for e in decoded if e is not None]
    assert len({e["event_id"] for e in real}) == len(real) == 7
    assert len({e["source"]["position"] for e in real}) == 7
    for events_of_key in grouped.values():
        positions = [e["source"]["position"] for e in events_of_key if e]
        assert positions == sorted(positions)  # text order is change order
    for e in real:
        assert not e["source"]["snapshot"]
        assert e["source"]["tx_id"]
        age = committed_at - e["source"]["ts_ms"]
        assert dt.timedelta(0) <= age < dt.timedelta(seconds=10)  # commit time, not read time
        assert e["source"]["table"] == run.table and e["source"]["database"] == run.database


def test_slot_moves_only_after_kafka_acknowledged_the_batch(cdc, config, serde, monkeypatch):
    run = cdc()
    monkeypatch.setattr(connector_module, "RETRY_S", 0.2)
    seen: list[tuple[str, Any]] = []  # what happened while streaming, with the slot's position
    failures = {"left": 1}
    real_commit, real_advance = Publisher.commit, Slot.advance

    def commit(self, timeout_s: float = 60) -> int:
        if not run.snapshot_done():
            return real_commit(self, timeout_s)
        seen.append(("commit", run.confirmed()))
        if failures["left"]:
            failures["left"] -= 1
            real_commit(self, timeout_s)  # delivered, but reported as failed, as Kafka might
            raise DeliveryError("injected: 1 of 1 events not acknowledged")
        acked = real_commit(self, timeout_s)
        seen.append(("acked", run.confirmed()))
        return acked

    def advance(self, to: str) -> None:
        seen.append(("advance", parse(to)))
        real_advance(self, to)

    monkeypatch.setattr(Publisher, "commit", commit)
    monkeypatch.setattr(Slot, "advance", advance)
    run.start()
    started_streaming(run)
    before = run.confirmed()
    with run.db() as conn:
        run.insert(conn, 1)
        end = parse(conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
    wait_for(lambda: run.confirmed() >= end, 30, "the slot to pass the insert")

    # The failed commit left the slot where it was; the batch was read and published again,
    # and only once Kafka acknowledged it did the slot move.
    assert seen[:3] == [("commit", before), ("commit", before), ("acked", before)]
    assert seen[3][0] == "advance" and seen[3][1] > before
    messages = read_topic(config, run.topic, at_least=2)
    decoded = [e for e in events(serde, messages) if e]
    assert len(decoded) == 2  # the same change twice, as the same event
    assert decoded[0]["event_id"] == decoded[1]["event_id"]
    assert decoded[0]["source"]["position"] == decoded[1]["source"]["position"]


def test_heartbeat_moves_an_idle_slot_past_wal_of_other_databases(cdc, config):
    run = cdc(heartbeat_s=1)
    run.start()
    started_streaming(run)
    with psycopg.connect(config.postgres_url("postgres"), autocommit=True) as other:
        for _ in range(20):  # WAL that is not ours: a message in another database
            other.execute("SELECT pg_logical_emit_message(false, 'opdbus-test', repeat('x', 4000))")
        written = parse(other.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
    wait_for(lambda: run.confirmed() >= written, 15, "the heartbeat to move the slot")


def test_heartbeat_never_skips_a_transaction_that_was_open_when_it_moved(cdc, config, serde):
    run = cdc(heartbeat_s=1)
    run.start()
    started_streaming(run)
    with run.db() as slow:
        slow.autocommit = False
        run.insert(slow, 42, "Long Transaction")  # written to WAL, not committed
        inserted = parse(slow.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
        with psycopg.connect(config.postgres_url("postgres"), autocommit=True) as other:
            other.execute("SELECT pg_logical_emit_message(false, 'opdbus-test', 'x')")
        wait_for(lambda: run.confirmed() > inserted, 15, "the heartbeat to pass the insert")
        slow.commit()
    messages = read_topic(config, run.topic, at_least=1)
    assert [e["after"]["nama"] for e in events(serde, messages)] == ["Long Transaction"]


def test_caught_up_slot_keeps_within_a_mebibyte_of_a_busy_neighbours_wal(cdc, config):
    run = cdc(heartbeat_s=600)  # no heartbeat: the batches themselves move the slot
    run.start()
    started_streaming(run)
    with psycopg.connect(config.postgres_url("postgres"), autocommit=True) as other:
        start = parse(other.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
        for _ in range(8):  # 2 MiB of committed WAL that is not ours: each later peek would
            # read it again from the slot's restart point
            other.execute(
                "SELECT pg_logical_emit_message(true, 'opdbus-test', repeat('x', 262144))"
            )
        written = parse(other.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
    assert written - start >= 2 * LAG_BYTES
    wait_for(lambda: written - run.confirmed() < LAG_BYTES, 15, "the slot to follow the WAL")


def test_added_column_is_published_under_a_registered_widened_schema(
    cdc, config, serde, registry, caplog
):
    run = cdc()
    run.start()
    started_streaming(run)
    caplog.set_level(logging.WARNING, logger="opdbus.connect.cdc")
    with run.db() as conn:
        run.insert(conn, 1, "Sebelum")
        conn.execute(f"ALTER TABLE {run.table} ADD COLUMN email text")
        conn.execute(
            f"UPDATE {run.table} SET email = 'siti@example.id', nama = 'Sesudah' WHERE nik = %s",
            (nik(1),),
        )
        run.insert(conn, 2, "Tanpa Email")
    messages = read_topic(config, run.topic, at_least=3)
    decoded = events(serde, messages)

    update = next(e for e in decoded if e["op"] == "u")
    assert update["after"]["email"] == "siti@example.id"
    assert update["before"]["email"] is None
    no_email = next(e for e in decoded if e["after"]["nik"] == nik(2))
    assert no_email["after"]["email"] is None
    latest = registry.get_latest_version(f"{run.topic}-value")
    update_msg = next(m for m, e in zip(messages, decoded, strict=True) if e["op"] == "u")
    assert int.from_bytes(update_msg.value()[1:5], "big") == latest.schema_id
    fields = {f["name"]: f for f in _entity_fields(latest.schema.schema_str)}
    assert fields["email"]["type"] == ["null", "string"] and fields["email"]["default"] is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "email" in w]) == 1
    assert "schemas/penduduk/v2.avsc" in next(w for w in warnings if "email" in w)


def _entity_fields(schema_str: str) -> list[dict[str, Any]]:
    """The entity record's fields in a composed envelope (defined in `before`)."""
    envelope = json.loads(schema_str)
    before = next(f for f in envelope["fields"] if f["name"] == "before")
    return next(t for t in before["type"] if isinstance(t, dict))["fields"]


def test_row_with_null_required_column_goes_to_dlq_while_the_others_arrive(cdc, config, serde):
    run = cdc()
    with run.db() as conn:
        conn.execute(f"INSERT INTO {run.table} (nik, nama) VALUES (%s, 'Tanpa KK')", (nik(9),))
    run.start()
    started_streaming(run)
    with run.db() as conn, conn.transaction():
        run.insert(conn, 1)
        conn.execute(
            f"INSERT INTO {run.table} (nik, no_kk, tanggal_lahir, jenis_kelamin, kode_kelurahan, "
            "status, updated_at) VALUES (%s, '6171010101200001', '1990-01-01', 'L', "
            "'61.71.01.1002', 'HIDUP', now())",
            (nik(2),),
        )
        run.insert(conn, 3)
    good = events(serde, read_topic(config, run.topic, at_least=2))
    assert sorted(e["after"]["nik"] for e in good) == [nik(1), nik(3)]
    parked = read_topic(config, run.dlq, at_least=2)
    assert sorted(m.key().decode() for m in parked) == [nik(2), nik(9)]
    headers = {m.key().decode(): dict(m.headers()) for m in parked}
    streamed = headers[nik(2)]
    assert streamed["opdbus.dlq.error.field"] == b"nama"
    assert streamed["opdbus.dlq.error.class"] == b"RecordError"
    assert streamed["opdbus.dlq.context.database"] == run.database.encode()
    assert streamed["opdbus.dlq.context.table"] == f"public.{run.table}".encode()
    assert streamed["opdbus.dlq.context.lsn"]
    assert streamed["opdbus.dlq.context.position"].count(b":") == 2
    snapshotted = headers[nik(9)]
    assert snapshotted["opdbus.dlq.error.field"] == b"no_kk"
    assert b":r:" in snapshotted["opdbus.dlq.context.position"]


def test_licence_tables_stream_to_their_own_topics_with_numeric_keys(cdc, config, serde):
    run = cdc(perizinan=True)
    permohonan, permohonan_topic = run.others["permohonan"]
    riwayat, riwayat_topic = run.others["riwayat_status"]
    with run.db() as conn:  # before the start: snapshot
        conn.execute(
            f"INSERT INTO {permohonan} (nomor_permohonan, jenis_izin, nik_pemohon, "
            "kode_kelurahan, status, tanggal_pengajuan, updated_at, kanal) VALUES "
            "('503/0001/DPMPTSP/2026', 'PBG', '6171015203900001', '61.71.01.1002', "
            "'DIAJUKAN', now(), now(), 'online')"
        )
    run.start()
    started_streaming(run)
    with run.db() as conn, conn.transaction():  # a status change and its history, one tx
        conn.execute(
            f"UPDATE {permohonan} SET status = 'TERBIT', tanggal_keputusan = "
            "'2026-12-01 09:30:00+07', updated_at = now() WHERE id_permohonan = 1"
        )
        conn.execute(
            f"INSERT INTO {riwayat} (id_permohonan, status, waktu, petugas) "
            "VALUES (1, 'TERBIT', now(), 'verifikator')"
        )

    applications = read_topic(config, permohonan_topic, at_least=2)
    assert [m.key() for m in applications] == [b"1", b"1"]
    snapshot, update = events(serde, applications)
    assert snapshot["op"] == "r" and snapshot["after"]["kanal"] == "online"
    assert update["op"] == "u" and update["before"]["status"] == "DIAJUKAN"
    assert update["after"]["tanggal_keputusan"] == dt.datetime(2026, 12, 1, 2, 30, tzinfo=dt.UTC)
    [history] = events(serde, read_topic(config, riwayat_topic, at_least=1))
    assert history["op"] == "c" and history["after"]["id_permohonan"] == 1
    assert history["source"]["tx_id"] == update["source"]["tx_id"]
    assert history["source"]["table"] == riwayat
    assert read_topic(config, run.topic, idle_s=1) == []  # nothing strays to penduduk


def test_unacknowledged_snapshot_is_not_marked_done_and_is_read_again(
    cdc, config, serde, monkeypatch
):
    run = cdc()
    with run.db() as conn:
        for i in range(50):
            run.insert(conn, i)
    real_commit = Publisher.commit

    def failing_commit(self, timeout_s: float = 60) -> int:
        real_commit(self, timeout_s)
        raise DeliveryError("injected: the snapshot's last events were not acknowledged")

    monkeypatch.setattr(Publisher, "commit", failing_commit)
    run.start()
    thread, _, publisher = run.threads.pop()
    thread.join(30)
    publisher.close()
    assert isinstance(thread.errors[0], DeliveryError)
    assert not run.snapshot_done()

    monkeypatch.setattr(Publisher, "commit", real_commit)
    run.start()
    started_streaming(run)
    decoded = events(serde, read_topic(config, run.topic, at_least=100))
    assert [e["op"] for e in decoded] == ["r"] * 100  # read twice, nothing streamed
    ids: dict[str, set[str]] = defaultdict(set)
    for e in decoded:
        ids[e["after"]["nik"]].add(e["event_id"])
    assert sorted(ids) == [nik(i) for i in range(50)]
    assert all(len(same) == 1 for same in ids.values())  # the second read: the same events
