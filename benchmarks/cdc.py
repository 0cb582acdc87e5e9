"""CDC connector throughput on the local stack (a script that prints figures, not a test).

    .venv/bin/python benchmarks/cdc.py [ROWS] [--batch N]

In a throwaway database with the brief's penduduk table, it
1. fills ROWS rows, starts the connector (in this process, as `opdbus connect` would run it)
   and times the initial snapshot until its table is marked done (every row acknowledged);
2. stops it, commits ROWS more inserts in 1,000-row transactions, restarts it and times the
   drain until the slot's confirmed LSN passes the last insert (every change acknowledged).
It prints events/s (wall) and the connector process's CPU per event (its events per
CPU-second), which is the fairer figure on a shared 2-core machine. Cleans up after itself.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import threading
import time
import uuid

import psycopg
import yaml
from confluent_kafka.schema_registry import SchemaRegistryClient

from opdbus import config as config_module
from opdbus import schemas
from opdbus.connectors.cdc import build
from opdbus.connectors.publisher import Publisher
from opdbus.kafka import ensure_topics, make_admin, topic_spec
from opdbus.serde import AvroSerde

FILL = (
    "INSERT INTO penduduk SELECT '6171' || lpad(g::text, 12, '0'), '6171010101200001', "
    "'Siti Aminah binti Fulan', date '1990-03-12' + (g %% 9000), "
    "CASE WHEN g %% 2 = 0 THEN 'L' ELSE 'P' END, '61.71.01.1002', 'HIDUP', now() "
    "FROM generate_series(%s::int, %s::int) g"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", nargs="?", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    base = config_module.load()
    tag = uuid.uuid4().hex[:8]
    db, slot, source = f"bench_cdc_{tag}", f"bench_{tag}", f"bench_{tag}"
    topic, dlq = f"bench.cdc.{tag}", f"bench.cdc.dlq.{tag}"
    admin = make_admin(base)
    ensure_topics(admin, [topic_spec(topic, 6, True), topic_spec(dlq, 1)])
    registry = SchemaRegistryClient(base.registry_client_conf())
    AvroSerde(registry).encoder(f"{topic}-value", schemas.current("penduduk"), register=True)
    spec = {
        "connector": "cdc", "opd": "disdukcapil", "system": "siak", "database": db,
        "slot": slot, "heartbeat_s": 10, "poll_interval_ms": 50, "batch_size": args.batch,
        "tables": {"penduduk": {"topic": topic, "key": ["nik"]}},
    }  # fmt: skip
    overlay = {
        "sources": {source: spec},
        "topics": {topic: {"schema": "penduduk", "compacted": True}},
        "dead_letters": {"connectors": dlq},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(overlay, f)
    config = config_module.load({**os.environ, "OPDBUS_CONFIG": f.name})
    with psycopg.connect(base.postgres_url("postgres"), autocommit=True) as a:
        a.execute(f"CREATE DATABASE {db}")
    src = psycopg.connect(base.postgres_url(db), autocommit=True)
    src.execute(
        "CREATE TABLE penduduk (nik varchar(16) PRIMARY KEY, no_kk varchar(16), nama text, "
        "tanggal_lahir date, jenis_kelamin char(1), kode_kelurahan varchar(13), status text, "
        "updated_at timestamptz)"
    )

    def fill(start: int, count: int, per_tx: int) -> None:
        for first in range(start, start + count, per_tx):
            src.execute(FILL, (first, first + per_tx - 1))

    def lsn(sql: str) -> int:
        return int(src.execute(sql, (slot,) if "%s" in sql else ()).fetchone()[0])

    def snapshot_done() -> bool:
        with psycopg.connect(base.postgres_url("opdbus")) as c:
            row = c.execute(
                "SELECT value FROM connect.offsets WHERE source = %s AND name = %s",
                (source, f"snapshot/{slot}/public.penduduk"),
            ).fetchone()
        return bool(row and row[0].get("done"))

    def timed(label: str, done) -> None:
        publisher = Publisher(config, source)
        connector = build(config, source, spec, publisher)
        stop = threading.Event()
        thread = threading.Thread(target=connector.run, args=(stop,))
        wall, cpu = time.monotonic(), time.process_time()
        thread.start()
        while not done():
            time.sleep(0.02)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        stop.set()
        thread.join()
        publisher.close()
        print(
            f"{label}: {args.rows:,} events in {wall:.1f} s = {args.rows / wall:,.0f} events/s; "
            f"connector CPU {cpu / args.rows * 1e6:.1f} us/event "
            f"= {args.rows / cpu:,.0f} events per CPU-second"
        )

    try:
        fill(1, args.rows, 10_000)
        timed("snapshot", snapshot_done)
        fill(args.rows + 1, args.rows, 1000)
        end = lsn("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        confirmed = "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = %s"  # noqa: E501
        timed("streaming", lambda: lsn(confirmed) >= end)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS (connector and this script): {peak:.0f} MiB; load {os.getloadavg()}")
    finally:
        src.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (slot,),
        )
        src.close()
        with psycopg.connect(base.postgres_url("postgres"), autocommit=True) as a:
            a.execute(f"DROP DATABASE {db} WITH (FORCE)")
        with psycopg.connect(base.postgres_url("opdbus"), autocommit=True) as c:
            c.execute("DELETE FROM connect.offsets WHERE source = %s", (source,))
        for future in admin.delete_topics([topic, dlq]).values():
            future.result()
        os.unlink(f.name)


if __name__ == "__main__":
    main()
