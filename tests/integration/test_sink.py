"""`opdbus sink` on the real stack: upserts under the guard, soft deletes, duplicates, dead
letters and database errors, every integrated entity into its unified table."""

from __future__ import annotations

import struct
import time

from . import test_sink_harness as harness
from .test_sink_harness import (
    ENTITIES,
    applied_events,
    assert_rows_are_newest,
    event,
    install_audit,
    migrate,
    read_all,
    record,
    truncate_unified,
    wait_for,
)

sink_db = harness.sink_db
sink_bus = harness.sink_bus


def test_every_entity_lands_in_its_table_with_lineage(sink_bus):
    bus = sink_bus(entities=tuple(ENTITIES))
    truncate_unified(bus)
    produced = {}
    for entity in ENTITIES:
        produced[entity] = [event(entity, "c", record(entity, n), n + 1) for n in range(20)]
        bus.produce(entity, produced[entity])
    sink = bus.start()
    bus.wait_caught_up()
    for entity, events in produced.items():
        assert_rows_are_newest(bus, entity, events)
    metrics = bus.metrics(sink)
    assert 'opdbus_sink_rows_total{op="insert",table="perizinan"} 20.0' in metrics
    assert 'opdbus_end_to_end_seconds_count{table="kinerja"} 20.0' in metrics
    assert "opdbus_sink_batch_seconds_count" in metrics
    row = bus.rows("perizinan")[(3,)]
    assert row["source_opd"] == "dpmptsp"
    assert row["source_table"] == "permohonan"
    assert row["source_tx_id"] == "4"
    assert row["processed_at"] is not None
    keuangan = bus.rows("keuangan")[("ANGGARAN", 2)]
    assert len(keuangan["rencana_kas"]) == 12


def test_an_older_event_after_a_newer_one_changes_nothing(sink_bus):
    bus = sink_bus()
    truncate_unified(bus)
    newer = event("perizinan", "u", record("perizinan", 1, version=2), position=50)
    older = event("perizinan", "u", record("perizinan", 1, version=1), position=40)
    bus.start()
    bus.produce("perizinan", [newer])
    bus.wait_caught_up()
    bus.produce("perizinan", [older])  # a later batch
    bus.wait_caught_up()
    # and both orders inside one batch
    pair = [
        event("perizinan", "u", record("perizinan", 2, version=3), position=70),
        event("perizinan", "u", record("perizinan", 2, version=1), position=60),
    ]
    bus.produce("perizinan", pair)
    bus.wait_caught_up()
    assert_rows_are_newest(bus, "perizinan", [newer, older, *pair])
    assert bus.rows("perizinan")[(1,)]["status"] == "KAJIAN_TEKNIS"


def test_a_delete_is_soft_and_an_older_update_cannot_resurrect_it(sink_bus):
    bus = sink_bus()
    truncate_unified(bus)
    created = event("perizinan", "c", record("perizinan", 7), position=10)
    deleted = event("perizinan", "d", record("perizinan", 7), position=30)
    stale = event("perizinan", "u", record("perizinan", 7, version=1), position=20)
    never_seen = event("perizinan", "d", record("perizinan", 8), position=15)
    bus.start()
    bus.produce("perizinan", [created, deleted])
    bus.produce_raw(bus.topics["perizinan"], [("7", None)])  # the tombstone after a delete
    bus.wait_caught_up()
    bus.produce("perizinan", [stale, never_seen])
    bus.wait_caught_up()
    rows = bus.rows("perizinan")
    assert rows[(7,)]["dihapus"] is True
    assert rows[(7,)]["source_position"] == deleted["source"]["position"]
    assert rows[(8,)]["dihapus"] is True  # a delete of an unseen key still guards it
    recreated = event("perizinan", "c", record("perizinan", 7, version=2), position=40)
    bus.produce("perizinan", [recreated])
    bus.wait_caught_up()
    assert bus.rows("perizinan")[(7,)]["dihapus"] is False


def test_the_same_event_twice_leaves_one_row_as_applied_once(sink_bus):
    bus = sink_bus()
    truncate_unified(bus)
    with bus.db() as conn:
        migrate(bus)
        audit = install_audit(conn)
    once = event("perizinan", "c", record("perizinan", 3), position=5)
    bus.produce("perizinan", [once, once])  # a re-delivery inside one batch
    bus.start()
    bus.wait_caught_up()
    first = bus.rows("perizinan")
    assert_rows_are_newest(bus, "perizinan", [once])
    with bus.db() as conn:
        assert applied_events(conn, audit) == {once["event_id"]: 1}
    bus.produce("perizinan", [once])  # and again, in a later batch: the guard's equal case
    bus.wait_caught_up()
    assert bus.rows("perizinan") == first


def test_undecodable_messages_go_to_the_dead_letter_topic_and_are_passed(sink_bus):
    bus = sink_bus()
    truncate_unified(bus)
    topic = bus.topics["perizinan"]
    good = [event("perizinan", "c", record("perizinan", n), n) for n in range(1, 4)]
    bus.produce("perizinan", good[:1])
    unknown_schema = struct.pack(">bI", 0, 987_654_321) + b"\x02"
    bus.produce_raw(topic, [("9", b"not avro at all"), ("10", unknown_schema)])
    bus.produce("perizinan", good[1:])
    bus.start()
    bus.wait_caught_up()
    assert_rows_are_newest(bus, "perizinan", good)
    letters = read_all(bus, bus.dlq, 2)
    headers = [dict(m.headers()) for m in letters]
    assert {m.value() for m in letters} == {b"not avro at all", unknown_schema}
    assert {h["opdbus.dlq.error.class"] for h in headers} == {
        b"WireFormatError",
        b"UnknownSchemaError",
    }
    for h in headers:
        assert h["opdbus.dlq.stage"] == b"sink"
        assert h["opdbus.dlq.topic"] == topic.encode()
        assert int(h["opdbus.dlq.offset"]) >= 0


def test_a_database_error_rolls_back_and_retries_without_skipping(sink_bus):
    bus = sink_bus()
    truncate_unified(bus)
    with bus.db() as conn:
        migrate(bus)
        conn.execute("CREATE TABLE IF NOT EXISTS public.fail_sink (on_ boolean)")
        conn.execute("INSERT INTO public.fail_sink VALUES (true)")
        conn.execute(
            """
            CREATE OR REPLACE FUNCTION public.fail_sink() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM public.fail_sink) THEN
                    RAISE EXCEPTION 'injected failure';
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER fail_sink AFTER INSERT OR UPDATE ON unified.perizinan
                FOR EACH STATEMENT EXECUTE FUNCTION public.fail_sink();
            """
        )
    try:
        events = [event("perizinan", "c", record("perizinan", n), n) for n in range(1, 30)]
        bus.produce("perizinan", events)
        sink = bus.start()
        wait_for(lambda: bus.log_text().count("injected failure") >= 2, 60, "two failed tries")
        assert bus.stored_offsets() == {}  # nothing committed, not even the offsets
        assert bus.rows("perizinan") == {}
        with bus.db() as conn:
            conn.execute("DELETE FROM public.fail_sink")
        bus.wait_caught_up(timeout_s=90)  # the backoff doubles: 0.5, 1, 2, 4 s ...
        assert_rows_are_newest(bus, "perizinan", events)
        assert sink.poll() is None
    finally:
        with bus.db() as conn:
            conn.execute("DROP TRIGGER IF EXISTS fail_sink ON unified.perizinan")


def test_sigterm_stops_the_sink_cleanly(sink_bus):
    bus = sink_bus()
    truncate_unified(bus)
    sink = bus.start()
    bus.produce("perizinan", [event("perizinan", "c", record("perizinan", 1), 1)])
    bus.wait_caught_up()
    started = time.monotonic()
    assert bus.stop(sink) == 0
    assert time.monotonic() - started < 15
    assert "sink stopped cleanly" in bus.log_text()
