"""Shared pieces of the sink and replay integration tests (no tests here): a throwaway database
per test module, integrated topics + consumer group + config overlay per test, integrated
events for each of the five entities, `opdbus sink` in a subprocess, and the expected state
computed from the events themselves."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from confluent_kafka import TopicPartition
from psycopg import sql

from opdbus import config as config_module
from opdbus import schemas
from opdbus.config import Config
from opdbus.envelope import Source, make_event
from opdbus.kafka import make_consumer, make_producer, produce
from opdbus.serde import AvroSerde, Encoder
from opdbus.stack.process import free_port

from .cli import OPDBUS

UTC = dt.UTC
PARTITIONS = 3
BASE_TS = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# entity -> (table, natural key columns, (opd, system, database, table) of its source)
ENTITIES: dict[str, tuple[str, tuple[str, ...], tuple[str, str, str, str]]] = {
    "perizinan": (
        "perizinan",
        ("id_permohonan",),
        ("dpmptsp", "perizinan", "perizinan", "permohonan"),
    ),
    "keuangan": ("keuangan", ("jenis", "id"), ("bkad", "keuangan", "keuangan", "anggaran")),
    "perencanaan": ("perencanaan", ("id",), ("bappeda", "perencanaan", "drop", "target.csv")),
    "capaian_kinerja": ("kinerja", ("id",), ("dinkes", "esakip", "esakip", "kinerja")),
    "penduduk_pseudonim": (
        "penduduk",
        ("nik_pseudonim",),
        ("disdukcapil", "siak", "siak", "penduduk"),
    ),
}


def record(entity: str, n: int, version: int = 0) -> dict[str, Any]:
    """A valid integrated record of entity with natural key n; version varies the values."""
    when = BASE_TS + dt.timedelta(days=version, minutes=n % 600)
    if entity == "perizinan":
        return {
            "id_permohonan": n,
            "nomor_permohonan": f"PBG-2026-{n:06d}",
            "jenis_izin": ("PBG", "NIB", "SIP")[n % 3],
            "kode_kelurahan": "61.71.05.1001",
            "kode_kecamatan": "61.71.05",
            "status": ("DIAJUKAN", "DIVERIFIKASI", "KAJIAN_TEKNIS", "TERBIT")[version % 4],
            "tanggal_pengajuan": BASE_TS,
            "tanggal_keputusan": when if version % 4 == 3 else None,
            "updated_at": when,
            "kanal": None if n % 2 else "online",
            "nik_pseudonim": f"ps{n:08d}",
            "kunci_pseudonim": "k1",
            "pemohon": {
                "kelompok_umur": "30-34",
                "jenis_kelamin": "LP"[n % 2],
                "kode_kecamatan": "61.71.02",
                "kode_kelurahan": "61.71.02.1003",
                "status": None,
            },
            "pencocokan": "COCOK" if n % 5 else "TIDAK_COCOK",
            "menunggu_ms": version * 10,
        }
    if entity == "keuangan":
        return {
            "jenis": "ANGGARAN",
            "id": n,
            "tahun": 2026,
            "kode_opd": "dinkes",
            "kode_program": "1.02.02",
            "kode_kegiatan": f"1.02.02.2.{n % 90:02d}",
            "nama_kegiatan": f"Kegiatan {n}",
            "nilai": Decimal(1200 + version) * 1000 + Decimal("0.25"),
            "rencana_kas": [Decimal(100 + version) * 1000 + Decimal(m) / 100 for m in range(12)],
            "tanggal": None,
            "nomor_sp2d": None,
            "uraian": None,
            "updated_at": when,
        }
    if entity == "perencanaan":
        return {
            "id": f"2026/dinkes/IK{n:05d}",
            "tahun": 2026,
            "kode_opd": "dinkes",
            "kode_program": "1.02.02",
            "kode_indikator": f"IK{n:05d}",
            "nama_indikator": f"Indikator {n}",
            "satuan": "persen",
            "target": 80.0 + version,
            "arah": "NAIK" if n % 2 else "TURUN",
        }
    if entity == "capaian_kinerja":
        return {
            "id": f"lap-{n}",
            "kode_opd": "dinkes",
            "kode_indikator": f"IK{n:05d}",
            "tahun": 2026,
            "jenis_periode": "BULAN",
            "periode": 1 + n % 12,
            "realisasi": 70.5 + version,
            "satuan": "persen",
            "dilaporkan_pada": when,
        }
    return {
        "nik_pseudonim": f"ps{n:08d}",
        "kunci_pseudonim": "k1",
        "kelompok_umur": "30-34",
        "jenis_kelamin": "LP"[n % 2],
        "kode_kecamatan": "61.71.02",
        "kode_kelurahan": "61.71.02.1003",
        "status": ("HIDUP", "PINDAH")[version % 2],
        "updated_at": when,
    }


def key_of(entity: str, rec: dict[str, Any]) -> str:
    """The Kafka key: the natural key as text."""
    return "/".join(str(rec[column]) for column in ENTITIES[entity][1])


def event(entity: str, op: str, rec: dict[str, Any], position: int) -> dict[str, Any]:
    """An integrated envelope; source_ts grows with position (one source commit per change)."""
    opd, system, database, table = ENTITIES[entity][2]
    ts_ms = int(BASE_TS.timestamp() * 1000) + position
    source = Source(opd, system, database, table, f"{position:016d}", ts_ms, tx_id=str(position))
    if op == "d":
        return make_event("d", source, before=rec)
    return make_event(op, source, after=rec)


def newest(events: list[dict[str, Any]], entity: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The event that must win for each natural key: greatest (source ts, position)."""
    won: dict[tuple[Any, ...], dict[str, Any]] = {}
    for ev in events:
        rec = ev["before"] if ev["op"] == "d" else ev["after"]
        key = tuple(rec[column] for column in ENTITIES[entity][1])
        order = (ev["source"]["ts_ms"], ev["source"]["position"])
        held = won.get(key)
        if held is None or order >= (held["source"]["ts_ms"], held["source"]["position"]):
            won[key] = ev
    return won


@dataclass
class SinkBus:
    """One test's sink: topics per entity, a consumer group, and the overlay naming them."""

    config: Config
    database: str
    topics: dict[str, str]
    dlq: str
    group: str
    env: dict[str, str]
    logs: Path
    serde: AvroSerde
    encoders: dict[str, Encoder] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    metrics_ports: dict[int, int] = field(default_factory=dict)

    def fresh_config(self) -> Config:
        return config_module.load({**os.environ, **self.env})

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.config.postgres_url(self.database), autocommit=True)

    def produce(self, entity: str, events: list[dict[str, Any]], topic: str | None = None) -> None:
        topic = topic or self.topics[entity]
        encoder = self.encoders.get(topic)
        if encoder is None:
            encoder = self.serde.encoder(f"{topic}-value", schemas.current(entity), register=True)
            self.encoders[topic] = encoder
        self.produce_raw(
            topic,
            [(key_of(entity, ev["before"] or ev["after"]), encoder.encode(ev)) for ev in events],
        )

    def produce_raw(self, topic: str, items: list[tuple[str, bytes | None]]) -> None:
        producer = make_producer(self.config, **{"linger.ms": 20})
        for key, value in items:
            produce(producer, topic, key=key.encode(), value=value)
        assert producer.flush(60) == 0

    def start(self, name: str = "sink", *args: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - kept by Popen
        port = free_port()  # its own: two sinks of one group may run side by side
        process = subprocess.Popen(
            [OPDBUS, "sink", *args],
            env={**os.environ, **self.env, "OPDBUS_METRICS__PORTS__SINK": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        self.metrics_ports[process.pid] = port
        return process

    def metrics(self, process: subprocess.Popen) -> str:
        url = f"http://127.0.0.1:{self.metrics_ports[process.pid]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode()

    def log_text(self, name: str = "sink") -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
        process.send_signal(sig)
        code = process.wait(timeout=60)
        self.processes.remove(process)
        return code

    def end_offsets(self) -> dict[tuple[str, int], int]:
        consumer = make_consumer(self.config, f"test-sink-ends-{uuid.uuid4().hex[:6]}")
        try:
            return {
                (topic, p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for topic in self.topics.values()
                for p in range(PARTITIONS)
            }
        finally:
            consumer.close()

    def stored_offsets(self, group: str | None = None) -> dict[tuple[str, int], int]:
        with self.db() as conn:
            if conn.execute("SELECT to_regclass('sink.offsets')").fetchone()[0] is None:
                return {}
            rows = conn.execute(
                "SELECT topic, partition, next_offset FROM sink.offsets WHERE consumer_group = %s",
                (group or self.group,),
            ).fetchall()
        return {(topic, partition): offset for topic, partition, offset in rows}

    def wait_caught_up(self, timeout_s: float = 120) -> None:
        """Until sink.offsets reaches every partition's end offset."""
        ends = {tp: end for tp, end in self.end_offsets().items() if end > 0}
        deadline = time.monotonic() + timeout_s
        while True:
            stored = self.stored_offsets()
            if all(stored.get(tp, 0) >= end for tp, end in ends.items()):
                return
            for process in self.processes:
                assert process.poll() is None, f"sink exited {process.returncode}: {self.logs}"
            assert time.monotonic() < deadline, f"sink at {stored}, ends {ends}; see {self.logs}"
            time.sleep(0.2)

    def rows(self, entity: str, schema: str = "unified") -> dict[tuple[Any, ...], dict[str, Any]]:
        """Every row of entity's table by natural key, ingested_at left out."""
        table, key, _ = ENTITIES[entity]
        with self.db() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, table)))
            found = {}
            for row in cur.fetchall():
                row.pop("ingested_at")
                found[tuple(row[column] for column in key)] = row
        return found

    def stop_all(self) -> None:
        for process in list(self.processes):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        self.processes.clear()


def assert_rows_are_newest(bus: SinkBus, entity: str, events: list[dict[str, Any]]) -> None:
    """Exactly one row per key, holding the newest event's values and lineage."""
    want = newest(events, entity)
    rows = bus.rows(entity)
    assert set(rows) == set(want), f"{len(rows)} rows for {len(want)} keys"
    for key, ev in want.items():
        row = rows[key]
        rec = ev["before"] if ev["op"] == "d" else ev["after"]
        assert row["event_id"] == ev["event_id"], key
        assert row["dihapus"] == (ev["op"] == "d"), key
        assert row["source_position"] == ev["source"]["position"], key
        for name, value in rec.items():
            if isinstance(value, dict):
                for inner, inner_value in value.items():
                    assert row[f"{name}_{inner}"] == inner_value, (key, name, inner)
            else:
                assert row[name] == value, (key, name)


@pytest.fixture(scope="module")
def sink_db(config: Config, stack) -> Iterator[str]:
    """A throwaway database for one test module."""
    name = f"test_sink_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(config.postgres_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(config.postgres_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sink_bus(
    config: Config, sink_db: str, new_topic: Callable[..., str], registry, tmp_path: Path
) -> Iterator[Callable[..., SinkBus]]:
    made: list[SinkBus] = []

    def make(
        entities: tuple[str, ...] = ("perizinan",), batch_max_events: int = 500, **sink: Any
    ) -> SinkBus:
        tag = uuid.uuid4().hex[:8]
        topics = {
            entity: new_topic(
                f"test.int.{entity}", PARTITIONS, compacted=entity == "penduduk_pseudonim"
            )
            for entity in entities
        }
        dlq = new_topic("test.dlq.sink", 1)
        group = f"test-sink-{tag}"
        overlay = tmp_path / f"overlay-{tag}.yaml"
        overlay.write_text(
            yaml.safe_dump(
                {
                    "sink": {
                        "database": sink_db,
                        "group_id": group,
                        "topics": list(topics.values()),
                        "batch_max_events": batch_max_events,
                        "batch_max_wait_ms": 100,
                        **sink,
                    },
                    "topics": {topic: {"schema": entity} for entity, topic in topics.items()},
                    "dead_letters": {"sink": dlq},
                    "metrics": {"ports": {"sink": free_port()}},
                }
            )
        )
        logs = tmp_path / f"logs-{tag}"
        logs.mkdir()
        bus = SinkBus(
            config,
            sink_db,
            topics,
            dlq,
            group,
            {"OPDBUS_CONFIG": str(overlay)},
            logs,
            AvroSerde(registry),
        )
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.stop_all()


def truncate_unified(bus: SinkBus) -> None:
    """Tests of one module share the database: start each from empty tables."""
    with bus.db() as conn:
        if conn.execute("SELECT to_regclass('unified.perizinan')").fetchone()[0] is not None:
            conn.execute(
                "TRUNCATE unified.perizinan, unified.keuangan, unified.perencanaan, "
                "unified.kinerja, unified.penduduk"
            )


def migrate(bus: SinkBus) -> None:
    """`opdbus sink --migrate-only` as an operator runs it."""
    done = subprocess.run(
        [OPDBUS, "sink", "--migrate-only"],
        env={**os.environ, **bus.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def install_audit(conn: psycopg.Connection, table: str = "unified.perizinan") -> str:
    """A test-only trigger recording every row change the sink makes (rolled back with it)."""
    conn.execute("CREATE TABLE IF NOT EXISTS public.applied (event_id text, at timestamptz)")
    conn.execute("TRUNCATE public.applied")
    conn.execute(
        f"""
        CREATE OR REPLACE FUNCTION public.audit_applied() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO public.applied VALUES (NEW.event_id, clock_timestamp());
            RETURN NULL;
        END $$;
        DROP TRIGGER IF EXISTS audit_applied ON {table};
        CREATE TRIGGER audit_applied AFTER INSERT OR UPDATE ON {table}
            FOR EACH ROW EXECUTE FUNCTION public.audit_applied();
        """
    )
    return "public.applied"


def applied_events(conn: psycopg.Connection, audit: str) -> dict[str, int]:
    return dict(
        conn.execute(f"SELECT event_id, count(*) FROM {audit} GROUP BY event_id").fetchall()
    )


def read_all(bus: SinkBus, topic: str, count: int, timeout_s: float = 30):
    """count messages of topic from the beginning of every partition."""
    consumer = make_consumer(bus.config, f"test-read-{uuid.uuid4().hex[:8]}")
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    got = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                got.append(message)
    finally:
        consumer.close()
    assert len(got) == count, f"{len(got)} of {count} messages on {topic}"
    return got
