"""Exactly once through crashes and rebalances: kill -9 in the middle of a batch, Kafka's
committed offsets lying, and a second sink leaving the group. A test-only audit trigger records
every row change the sink makes (rolled back with its batch), so an event applied twice shows
up twice, and an event lost shows up as a stale row."""

from __future__ import annotations

import random
import signal
import time

from confluent_kafka import TopicPartition

from opdbus.kafka import make_consumer

from . import test_sink_harness as harness
from .test_sink_harness import (
    PARTITIONS,
    applied_events,
    assert_rows_are_newest,
    event,
    install_audit,
    migrate,
    newest,
    record,
    truncate_unified,
    wait_for,
)

sink_db = harness.sink_db
sink_bus = harness.sink_bus


def history(entity: str, keys: range, changes: int, first_position: int) -> list[dict]:
    """changes events per key, each key's in order but spread at random over the whole stream
    (so every batch holds some key's last change: a lost batch shows in the final rows);
    every 7th key ends deleted, and every 5th key's second change comes after all its others
    (an older event arriving late, which the guard must refuse)."""
    shuffle = random.Random(f"{entity}/{keys}/{first_position}")
    timed = []
    for n in keys:
        times = sorted(shuffle.random() for _ in range(changes))
        if n % 5 == 0 and changes > 2:
            times[1], times[-1] = times[-1], times[1]
        for version, at in enumerate(times):
            op = "c" if version == 0 else "u"
            if version == changes - 1 and n % 7 == 0:
                op = "d"
            position = first_position + version * len(keys) + (n - keys.start) + 1
            timed.append((at, event(entity, op, record(entity, n, version), position)))
    return [made for _, made in sorted(timed, key=lambda pair: pair[0])]


def sink_backend(bus) -> tuple[int, str, float] | None:
    """The sink's database session while it is inside a batch's merge: (pid, query, seconds
    the statement has run)."""
    with bus.db() as conn:
        return conn.execute(
            "SELECT pid, query, extract(epoch FROM clock_timestamp() - query_start) "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'opdbus-sink' AND xact_start IS NOT NULL "
            "AND state = 'active' AND query LIKE '%%INSERT INTO \"unified\".\"perizinan\"%%'"
        ).fetchone()


def test_kill_9_in_the_middle_of_a_batch_then_restart_applies_each_event_exactly_once(sink_bus):
    bus = sink_bus(entities=("perizinan", "keuangan"), batch_max_events=2500)
    truncate_unified(bus)
    migrate(bus)
    perizinan = history("perizinan", range(3000), 4, 0)
    keuangan = history("keuangan", range(2000), 4, 0)  # 12,000 + 8,000 events
    with bus.db() as conn:
        audit = install_audit(conn, "unified.perizinan")
        conn.execute(
            "DROP TRIGGER IF EXISTS audit_applied ON unified.keuangan; "
            "CREATE TRIGGER audit_applied AFTER INSERT OR UPDATE ON unified.keuangan "
            "FOR EACH ROW EXECUTE FUNCTION public.audit_applied()"
        )
        # Slow batches, so the kill lands inside one.
        conn.execute(
            "CREATE OR REPLACE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$; "
            "DROP TRIGGER IF EXISTS slow ON unified.perizinan; "
            "CREATE TRIGGER slow AFTER INSERT ON unified.perizinan "
            "FOR EACH STATEMENT EXECUTE FUNCTION public.slow()"
        )
    try:
        bus.produce("perizinan", perizinan)
        bus.produce("keuangan", keuangan)
        total = sum(bus.end_offsets().values())
        assert total == 20_000
        sink = bus.start()

        def mid_batch():
            if sum(bus.stored_offsets().values()) == 0:
                return None  # no batch committed yet
            found = sink_backend(bus)
            return found if found and found[2] < 0.2 else None

        pid, _, _ = wait_for(mid_batch, 120, "the sink inside a batch after a committed one")
        before = bus.stored_offsets()
        sink.kill()  # SIGKILL: no clean shutdown, the transaction is left open
        sink.wait(timeout=30)
        bus.processes.remove(sink)
        wait_for(lambda: not _backend_alive(bus, pid), 30, "the killed session to end")
        after = bus.stored_offsets()
        assert after == before, "the interrupted batch must not have committed"
        assert 0 < sum(after.values()) < total
        with bus.db() as conn:
            half = applied_events(conn, audit)

        bus.start("sink-restarted")
        bus.wait_caught_up(timeout_s=180)
        assert bus.stored_offsets() == {tp: end for tp, end in bus.end_offsets().items() if end}
        assert_rows_are_newest(bus, "perizinan", perizinan)
        assert_rows_are_newest(bus, "keuangan", keuangan)
        with bus.db() as conn:
            applied = applied_events(conn, audit)
        twice = {event_id: n for event_id, n in applied.items() if n > 1}
        assert not twice, f"{len(twice)} events applied more than once"
        finals = {e["event_id"] for e in newest(perizinan, "perizinan").values()}
        finals |= {e["event_id"] for e in newest(keuangan, "keuangan").values()}
        assert finals <= set(applied)
        assert set(half) < set(applied)
    finally:
        with bus.db() as conn:
            conn.execute("DROP TRIGGER IF EXISTS slow ON unified.perizinan")
            conn.execute("DROP TRIGGER IF EXISTS audit_applied ON unified.perizinan")
            conn.execute("DROP TRIGGER IF EXISTS audit_applied ON unified.keuangan")


def _backend_alive(bus, pid: int) -> bool:
    with bus.db() as conn:
        return conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()


def test_assignment_resumes_from_sink_offsets_whatever_kafka_committed(sink_bus):
    bus = sink_bus()
    truncate_unified(bus)
    first = history("perizinan", range(100), 2, 0)
    bus.produce("perizinan", first)
    sink = bus.start()
    bus.wait_caught_up()
    assert bus.stop(sink) == 0
    second = history("perizinan", range(50, 150), 2, 1_000)
    bus.produce("perizinan", second)
    # Lie in Kafka: partition 0 back to the start (would re-apply), partition 1 at its end
    # (would skip the second wave).
    ends = bus.end_offsets()
    topic = bus.topics["perizinan"]
    liar = make_consumer(bus.config, bus.group)
    liar.commit(
        offsets=[TopicPartition(topic, 0, 0), TopicPartition(topic, 1, ends[(topic, 1)])],
        asynchronous=False,
    )
    liar.close()
    with bus.db() as conn:
        audit = install_audit(conn)
    bus.start("sink-restarted")
    bus.wait_caught_up()
    assert_rows_are_newest(bus, "perizinan", first + second)
    with bus.db() as conn:
        applied = applied_events(conn, audit)
    first_ids = {e["event_id"] for e in first}
    assert not first_ids & set(applied), "events of the first run were applied again"
    assert {e["event_id"] for e in newest(second, "perizinan").values()} <= set(applied)


def test_a_sink_leaving_the_group_hands_its_partitions_over_at_the_stored_offsets(sink_bus):
    bus = sink_bus(batch_max_events=200)
    truncate_unified(bus)
    migrate(bus)
    with bus.db() as conn:
        audit = install_audit(conn)
    one, two = bus.start("sink-1"), bus.start("sink-2")
    wait_for(lambda: "assigned" in bus.log_text("sink-1"), 60, "sink-1 assigned")
    wait_for(lambda: "assigned" in bus.log_text("sink-2"), 60, "sink-2 assigned")
    waves = []
    for wave in range(3):
        events = history("perizinan", range(wave * 100, wave * 100 + 300), 2, wave * 10_000)
        waves += events
        bus.produce("perizinan", events)
        if wave == 1:
            assert bus.stop(one, signal.SIGTERM) == 0
        time.sleep(0.3)
    bus.wait_caught_up()
    assert_rows_are_newest(bus, "perizinan", waves)
    with bus.db() as conn:
        applied = applied_events(conn, audit)
    assert not {k: n for k, n in applied.items() if n > 1}
    assert "sink stopped cleanly" in bus.log_text("sink-1")
    assert bus.log_text("sink-2").count("assigned") >= 2  # it took sink-1's partitions over
    assert two.poll() is None
    assert len(bus.stored_offsets()) == PARTITIONS
