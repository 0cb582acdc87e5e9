"""`opdbus replay` on the real stack: the rebuilt view equals the live one row by row, the
monev views read the new tables after the swap, and the live sink, running throughout, neither
loses nor re-applies what arrived while the rebuild ran."""

from __future__ import annotations

import os
import subprocess
import threading

from opdbus.sinks.replay import replay

from . import test_sink_harness as harness
from .cli import OPDBUS
from .test_sink_harness import ENTITIES, assert_rows_are_newest, event, record, truncate_unified

sink_db = harness.sink_db
sink_bus = harness.sink_bus

TEST_VIEW = (
    "CREATE OR REPLACE VIEW monev.test_replay_perizinan AS "
    "SELECT count(*) AS jumlah, max(source_position) AS terakhir "
    "FROM unified.perizinan WHERE NOT dihapus"
)


def changes(entity: str, keys: int, versions: int, first: int = 0) -> list[dict]:
    """versions changes per key (the last one a delete for every 4th key)."""
    made = []
    for version in range(versions):
        for n in range(keys):
            op = "d" if version == versions - 1 and n % 4 == 0 else ("c" if version == 0 else "u")
            made.append(event(entity, op, record(entity, n, version), first + version * 1000 + n))
    return made


def bound_schemas(bus, view: str) -> set[str]:
    """The schemas of the tables a view reads (views bind to tables, not names)."""
    with bus.db() as conn:
        rows = conn.execute(
            "SELECT DISTINCT tn.nspname FROM pg_depend d "
            "JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass "
            "JOIN pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass "
            "JOIN pg_namespace tn ON tn.oid = t.relnamespace "
            "WHERE r.ev_class = %s::regclass AND t.oid <> r.ev_class",
            (view,),
        ).fetchall()
    return {row[0] for row in rows}


def old_schemas(bus) -> list[str]:
    with bus.db() as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'unified\\_%%' ORDER BY 1"
            )
        ]


def test_replay_equals_live_and_the_views_read_the_rebuilt_tables(sink_bus):
    bus = sink_bus(entities=tuple(ENTITIES), batch_max_events=300)
    truncate_unified(bus)
    produced = {entity: changes(entity, 150, 3) for entity in ENTITIES}
    for entity, events in produced.items():
        bus.produce(entity, events)
    bus.start()
    bus.wait_caught_up()
    with bus.db() as conn:
        conn.execute(TEST_VIEW)
    live = {entity: bus.rows(entity) for entity in ENTITIES}
    before = set(old_schemas(bus))

    done = subprocess.run(
        [OPDBUS, "replay"],
        env={**os.environ, **bus.env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "swapped in" in done.stdout

    (old,) = set(old_schemas(bus)) - before
    assert old.startswith("unified_old_")
    for entity in ENTITIES:
        rebuilt = bus.rows(entity)
        assert rebuilt == live[entity], entity  # every column but ingested_at, every row
        assert bus.rows(entity, schema=old) == live[entity], entity
    assert bound_schemas(bus, "monev.test_replay_perizinan") == {"unified"}
    assert bound_schemas(bus, "monev.kesegaran_data") == {"unified"}
    with bus.db() as conn:
        assert conn.execute(
            "SELECT has_table_privilege('analyst', 'unified.perizinan', 'SELECT')"
        ).fetchone()[0]
        live_count = sum(1 for row in live["perizinan"].values() if not row["dihapus"])
        assert conn.execute("SELECT jumlah FROM monev.test_replay_perizinan").fetchone() == (
            live_count,
        )

    # The live sink, which ran throughout, keeps applying into the swapped-in tables.
    more = changes("perizinan", 200, 1, first=50_000)
    bus.produce("perizinan", more)
    bus.wait_caught_up()
    assert_rows_are_newest(bus, "perizinan", produced["perizinan"] + more)


def test_events_that_arrive_during_a_replay_reach_the_new_view_exactly_once(sink_bus):
    bus = sink_bus(batch_max_events=200)
    truncate_unified(bus)
    first = changes("perizinan", 300, 2)
    bus.produce("perizinan", first)
    bus.start()
    bus.wait_caught_up()
    with bus.db() as conn:
        conn.execute(TEST_VIEW)
    during = changes("perizinan", 400, 1, first=100_000)
    before = set(old_schemas(bus))

    def while_rebuilt_waits() -> None:
        # After the rebuild read up to its end offsets, before the swap: the live sink
        # applies these to the old tables only.
        bus.produce("perizinan", during)
        bus.wait_caught_up()

    done = replay(
        bus.fresh_config(), threading.Event(), drop_old=True, before_swap=while_rebuilt_waits
    )
    assert done is not None
    assert done.events == len(first)
    assert set(old_schemas(bus)) == before, "--drop-old leaves no old schema"
    bus.wait_caught_up()
    assert_rows_are_newest(bus, "perizinan", first + during)
    assert "offsets_moved" in bus.log_text()  # the live sink noticed and read again
    assert bound_schemas(bus, "monev.test_replay_perizinan") == {"unified"}
    with bus.db() as conn:
        assert conn.execute("SELECT count(*) FROM monev.kesegaran_data").fetchone()[0] >= 1
