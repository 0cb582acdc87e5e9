"""Sink throughput: rows/s `opdbus sink` applies, beside PostgreSQL COPY of the same rows.

    .venv/bin/python benchmarks/sink.py [--events 200000] [--partitions 6]

On the running local stack, in a database and topic of its own: produces --events integrated
perizinan events (distinct applications), then times a real `opdbus sink` process draining the
topic (decode, map, COPY into staging, guarded merge, offsets, commit), first as inserts, then
again with one newer change per application (the update path). The baseline, in the same run
on the same database: COPY of the same rows, already built in memory, into a plain table.
Prints figures, including the sink's peak RSS; asserts nothing. Target: >= 30,000 rows/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import yaml
from confluent_kafka import TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from psycopg import sql

from opdbus import config as config_module
from opdbus import schemas
from opdbus.config import Config
from opdbus.envelope import Source, make_event
from opdbus.kafka import (
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
    produce,
    topic_spec,
)
from opdbus.serde import AvroSerde
from opdbus.sinks.decode import WireDecoder
from opdbus.sinks.rows import RowMapper
from opdbus.sinks.tables import Table, describe
from opdbus.stack.process import free_port, peak_rss_mib

OPDBUS = str(Path(sys.executable).parent / "opdbus")
BASE = dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)


def application(n: int, version: int) -> dict[str, Any]:
    when = BASE + dt.timedelta(minutes=n % 100_000, days=version)
    return {
        "id_permohonan": n,
        "nomor_permohonan": f"PBG-2026-{n:07d}",
        "jenis_izin": ("PBG", "NIB", "SIP", "SLF", "PKKPR")[n % 5],
        "kode_kelurahan": "61.71.05.1001",
        "kode_kecamatan": "61.71.05",
        "status": ("DIAJUKAN", "TERBIT")[version % 2],
        "tanggal_pengajuan": BASE,
        "tanggal_keputusan": when if version % 2 else None,
        "updated_at": when,
        "kanal": "online",
        "nik_pseudonim": f"{n:064x}",
        "kunci_pseudonim": "k1",
        "pemohon": {
            "kelompok_umur": "30-34",
            "jenis_kelamin": "LP"[n % 2],
            "kode_kecamatan": "61.71.02",
            "kode_kelurahan": "61.71.02.1003",
            "status": None,
        },
        "pencocokan": "COCOK",
        "menunggu_ms": 12,
    }


def events(count: int, version: int) -> list[dict[str, Any]]:
    made = []
    for n in range(count):
        position = f"{version:04d}{n:012d}"
        source = Source(
            "dpmptsp", "perizinan", "perizinan", "permohonan", position, 1_767_600_000_000 + n
        )
        made.append(make_event("u" if version else "c", source, after=application(n, version)))
    return made


def produce_events(
    config: Config, topic: str, batch: list[dict[str, Any]], serde: AvroSerde
) -> float:
    encoder = serde.encoder(f"{topic}-value", schemas.current("perizinan"), register=True)
    producer = make_producer(config, **{"linger.ms": 50, "batch.size": 1_000_000})
    started = time.monotonic()
    for event in batch:
        value = encoder.encode(event)
        key = str(event["after"]["id_permohonan"]).encode()
        produce(producer, topic, key=key, value=value)
    producer.flush()
    return time.monotonic() - started


def end_offsets(config: Config, topic: str, partitions: int) -> dict[tuple[str, int], int]:
    consumer = make_consumer(config, f"bench-{uuid.uuid4().hex[:6]}")
    try:
        return {
            (topic, p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def stored(conn: psycopg.Connection, group: str) -> dict[tuple[str, int], int]:
    rows = conn.execute(
        "SELECT topic, partition, next_offset FROM sink.offsets WHERE consumer_group = %s",
        (group,),
    ).fetchall()
    return {(t, p): o for t, p, o in rows}


def drain(
    config: Config, database: str, group: str, env: dict, workdir: Path, ends: dict, sinks: int
):
    """Start `opdbus sink` (sinks instances of one group), wait until sink.offsets reaches
    ends, stop them. Returns (seconds from the first commit to caught up, seconds from the
    start, events after the first commit, peak RSS MiB of one instance)."""
    with psycopg.connect(config.postgres_url(database), autocommit=True) as conn:
        before = stored(conn, group)
        total = sum(ends.values()) - sum(before.values())
        log = open(workdir / "sink.log", "ab")  # noqa: SIM115 - kept by Popen
        running = [
            subprocess.Popen(
                [OPDBUS, "sink"],
                env={**env, "OPDBUS_METRICS__PORTS__SINK": str(free_port())},
                stdout=log,
                stderr=log,
            )
            for _ in range(sinks)
        ]
        started = time.monotonic()
        first_at, first_done, shown = None, 0, 0.0
        try:
            while True:
                now = stored(conn, group)
                done = sum(now.values()) - sum(before.values())
                if first_at is None and done > 0:
                    first_at, first_done = time.monotonic(), done
                if time.monotonic() - shown > 0.5:
                    shown = time.monotonic()
                    print(f"\r  applied {done:,}/{total:,}", end="", flush=True)
                if all(now.get(tp, 0) >= end for tp, end in ends.items()):
                    finished = time.monotonic()
                    print(f"\r  applied {done:,}/{total:,}")
                    break
                if any(sink.poll() is not None for sink in running):
                    sys.exit(f"a sink exited; see {workdir}/sink.log")
                time.sleep(0.01)
            rss = max(peak_rss_mib(sink.pid) for sink in running)
        finally:
            for sink in running:
                sink.terminate()
            for sink in running:
                sink.wait(timeout=60)
    return finished - (first_at or started), finished - started, total - first_done, rss


def copy_baseline(conn: psycopg.Connection, table: Table, rows: list[tuple]) -> float:
    """Binary COPY of the staged rows into a plain table (no key, no index): the floor."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
        for c, t in zip(table.columns, table.stage_types, strict=True)
    )
    conn.execute(sql.SQL("CREATE TABLE public.copy_baseline ({})").format(columns))
    names = sql.SQL(", ").join(map(sql.Identifier, table.columns))
    statement = sql.SQL("COPY public.copy_baseline ({}) FROM STDIN (FORMAT BINARY)").format(names)
    started = time.monotonic()
    with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(list(table.stage_oids))
        for row in rows:
            copy.write_row(row)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--sinks", type=int, default=1, help="sink processes sharing the consumer group"
    )
    args = parser.parse_args()

    config = config_module.load()
    tag = uuid.uuid4().hex[:8]
    database, topic, group = f"bench_sink_{tag}", f"bench.int.perizinan.{tag}", f"bench-{tag}"
    admin = make_admin(config)
    ensure_topics(admin, [topic_spec(topic, args.partitions)])
    with psycopg.connect(config.postgres_url("postgres"), autocommit=True) as pg:
        pg.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    workdir = Path(tempfile.mkdtemp(prefix="bench-sink-"))
    overlay = workdir / "overlay.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "sink": {"database": database, "group_id": group, "topics": [topic]},
                "topics": {topic: {"schema": "perizinan"}},
                "dead_letters": {"sink": f"{topic}.dlq"},
                "metrics": {"ports": {"sink": free_port()}},
            }
        )
    )
    env = {**os.environ, "OPDBUS_CONFIG": str(overlay)}
    sink_conf = config_module.load(env).section("sink")
    serde = AvroSerde(SchemaRegistryClient(config.registry_client_conf()))
    try:
        subprocess.run([OPDBUS, "sink", "--migrate-only"], env=env, check=True)
        inserts = events(args.events, 0)
        took = produce_events(config, topic, inserts, serde)
        print(f"produced {len(inserts):,} new applications in {took:.1f}s")
        ends = end_offsets(config, topic, args.partitions)
        insert_s, insert_total_s, insert_n, rss = drain(
            config, database, group, env, workdir, ends, args.sinks
        )
        took = produce_events(config, topic, events(args.events, 1), serde)
        print(f"produced {args.events:,} changes of them in {took:.1f}s")
        ends = end_offsets(config, topic, args.partitions)
        update_s, _, update_n, rss_updates = drain(
            config, database, group, env, workdir, ends, args.sinks
        )

        with psycopg.connect(config.postgres_url(database), autocommit=True) as conn:
            table = describe(conn, "unified", "perizinan")
            mapper = RowMapper(table)
            decoder = WireDecoder(SchemaRegistryClient(config.registry_client_conf()))
            encoder = serde.encoder(f"{topic}-value", schemas.current("perizinan"))
            rows = [mapper.row(decoder.decode(encoder.encode(e))) for e in inserts]
            copy_s = copy_baseline(conn, table, rows)

        print(
            f"\n{args.sinks} sink process(es), batch_max_events={sink_conf['batch_max_events']}, "
            f"batch_max_wait_ms={sink_conf['batch_max_wait_ms']}, {args.partitions} partitions"
        )
        print(
            f"  inserts: {insert_n / insert_s:>9,.0f} rows/s  ({insert_n:,} rows after the first "
            f"batch in {insert_s:.2f}s; {len(inserts) / insert_total_s:,.0f}/s with start-up)"
        )
        print(
            f"  updates: {update_n / update_s:>9,.0f} rows/s  "
            f"({update_n:,} rows in {update_s:.2f}s)"
        )
        print(
            f"baseline, binary COPY of the same {len(rows):,} rows into a plain table: "
            f"{len(rows) / copy_s:,.0f} rows/s ({copy_s:.2f}s)"
        )
        print(f"sink peak RSS: {max(rss, rss_updates):.0f} MiB (budget 300 MiB)")
    finally:
        with psycopg.connect(config.postgres_url("postgres"), autocommit=True) as pg:
            pg.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        for future in admin.delete_topics([topic], request_timeout=30).values():
            future.result(timeout=30)


if __name__ == "__main__":
    main()
