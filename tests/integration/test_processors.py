"""The processors on the real broker and registry, with the RocksDB store (never the in-memory
one, which hides partitioning bugs): late population records, stale updates, dead letters,
unmatched release, pseudonyms only, kill -9 recovery, and two workers sharing partitions."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import KafkaException, Message

from opdbus import schemas
from opdbus.config import Config
from opdbus.config import load as load_config
from opdbus.envelope import Source, make_event
from opdbus.kafka import make_admin, make_consumer, make_producer
from opdbus.processors.state import app_state_dir, worker_state_dir
from opdbus.processors.steps import internal_topics
from opdbus.serde import AvroSerde
from opdbus.stack.process import free_port

from .cli import OPDBUS, opdbus
from .kafka_io import topic_size

PARTITIONS = 6
UTC = dt.UTC


def nik_of(serial: int, female: bool = True, day: int = 12) -> str:
    """A valid Pontianak NIK: 61 71 01, birth 1990-03-<day> (+40 for women), serial."""
    return f"617101{day + 40 if female else day:02d}0390{serial % 10000:04d}"


@dataclass
class Bus:
    """An isolated processor deployment: its own topics, app id, ports and config overlay."""

    config: Config
    env: dict[str, str]
    topics: dict[str, str]
    serde: AvroSerde
    logs: Path
    workers: dict[int, subprocess.Popen] = field(default_factory=dict)
    position: int = 0

    def start(self, worker: int = 0) -> None:
        log = open(self.logs / f"worker-{worker}.log", "ab")  # noqa: SIM115 - kept by Popen
        self.workers[worker] = subprocess.Popen(
            [OPDBUS, "process", "--worker", str(worker)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, worker: int = 0, timeout_s: float = 90) -> None:
        """Until the worker says it is ready (partitions assigned, state restored)."""
        log = self.logs / f"worker-{worker}.log"
        deadline = time.monotonic() + timeout_s
        while "ready: partitions" not in log.read_text(errors="replace"):
            assert self.workers[worker].poll() is None, f"worker {worker} exited; see {log}"
            assert time.monotonic() < deadline, f"worker {worker} not ready; see {log}"
            time.sleep(0.3)

    def kill(self, worker: int = 0, sig: int = signal.SIGKILL) -> int:
        proc = self.workers.pop(worker)
        proc.send_signal(sig)
        return proc.wait(timeout=60)

    def stop_all(self) -> None:
        for worker in list(self.workers):
            self.kill(worker, signal.SIGTERM)

    def event(self, entity: str, op: str, row: dict[str, Any]) -> dict[str, Any]:
        self.position += 1
        system = {
            "penduduk": ("disdukcapil", "siak"),
            "permohonan": ("dpmptsp", "perizinan"),
            "anggaran": ("bkad", "keuangan"),
        }[entity]
        source = Source(
            *system,
            system[1],
            entity,
            f"test-{uuid.uuid4().hex}-{self.position}",
            int(time.time() * 1000),
        )
        if op == "d":
            return make_event(op, source, before=row)
        return make_event(op, source, after=row)

    def produce(self, entity: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        topic = self.topics[entity]
        encoder = self.serde.encoder(f"{topic}-value", schemas.current(entity), register=True)
        producer = make_producer(self.config)
        for key, event in items:
            producer.produce(topic, key=key.encode(), value=encoder.encode(event))
        assert producer.flush(30) == 0

    def read(self, kind: str, count: int, timeout_s: float = 90) -> list[Message]:
        """At least count messages from an output (or the DLQ), from the beginning."""
        consumer = make_consumer(self.config, f"test-read-{uuid.uuid4().hex[:8]}")
        consumer.subscribe([self.topics[kind]])
        got: list[Message] = []
        deadline = time.monotonic() + timeout_s
        try:
            while len(got) < count and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is not None and msg.error() is None:
                    got.append(msg)
        finally:
            consumer.close()
        assert len(got) >= count, f"{len(got)} of {count} messages on {kind}; logs in {self.logs}"
        return got

    def decoded_until(self, kind: str, want: set[str], timeout_s: float) -> list[dict[str, Any]]:
        """Every output up to the moment each wanted event id has been seen (or the timeout)."""
        consumer = make_consumer(self.config, f"test-read-{uuid.uuid4().hex[:8]}")
        consumer.subscribe([self.topics[kind]])
        got: list[dict[str, Any]] = []
        seen: set[str] = set()
        deadline = time.monotonic() + timeout_s
        try:
            while not want <= seen and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is not None and msg.error() is None and msg.value():
                    got.append(self.serde.decode(msg.value()))
                    seen.add(got[-1]["event_id"])
        finally:
            consumer.close()
        return got

    def decoded(self, kind: str, count: int, timeout_s: float = 90) -> list[dict[str, Any]]:
        return [
            self.serde.decode(m.value()) for m in self.read(kind, count, timeout_s) if m.value()
        ]


def citizen(nik: str, kelurahan: str = "61.71.02.1003", **extra: Any) -> dict[str, Any]:
    female = int(nik[6:8]) > 40
    row = {
        "nik": nik,
        "no_kk": "6171010101200001",
        "nama": "Warga Uji",
        "tanggal_lahir": dt.date(1990, 3, int(nik[6:8]) - (40 if female else 0)),
        "jenis_kelamin": "P" if female else "L",
        "kode_kelurahan": kelurahan,
        "status": "HIDUP",
        "updated_at": dt.datetime(2026, 1, 5, tzinfo=UTC),
    }
    return row | extra


def application(app_id: int, nik: str, status: str = "DIAJUKAN") -> dict[str, Any]:
    when = dt.datetime(2026, 2, 1, 8, tzinfo=UTC)
    return {
        "id_permohonan": app_id,
        "nomor_permohonan": f"PBG-2026-{app_id:06d}",
        "jenis_izin": "PBG",
        "nik_pemohon": nik,
        "kode_kelurahan": "61.71.05.1001",
        "status": status,
        "tanggal_pengajuan": when,
        "tanggal_keputusan": None,
        "updated_at": when,
        "kanal": None,
    }


@pytest.fixture
def bus(stack, config, registry, new_topic, tmp_path) -> Iterator[Bus]:
    topics = {
        "penduduk": new_topic("test.penduduk", PARTITIONS, compacted=True),
        "permohonan": new_topic("test.permohonan", PARTITIONS),
        "anggaran": new_topic("test.anggaran", PARTITIONS),
        "perizinan": new_topic("test.int.perizinan", PARTITIONS),
        "keuangan": new_topic("test.int.keuangan", PARTITIONS),
        "penduduk_out": new_topic("test.int.penduduk", PARTITIONS, compacted=True),
        "dlq": new_topic("test.dlq.processors", 1),
    }
    schema_of = {
        "penduduk": "penduduk",
        "permohonan": "permohonan",
        "anggaran": "anggaran",
        "perizinan": "perizinan",
        "keuangan": "keuangan",
        "penduduk_out": "penduduk_pseudonim",
    }
    app_id = f"test-proc-{uuid.uuid4().hex[:8]}"
    overlay = {
        "topics": {topics[k]: {"schema": s} for k, s in schema_of.items()}
        | {topics["dlq"]: {"schema": None}},
        "dead_letters": {"processors": topics["dlq"]},
        "metrics": {"ports": {"processor": free_port(count=2)}},  # workers 0 and 1
        "processors": {
            "app_id": app_id,
            "unmatched_after_s": 6,
            "release_check_s": 1,
            "routes": {
                topics["permohonan"]: {"output": topics["perizinan"], "consumer": "dpmptsp"},
                topics["anggaran"]: {"output": topics["keuangan"]},
            },
            "population": {"input": topics["penduduk"], "output": topics["penduduk_out"]},
        },
    }
    # The overlay merges into the shipped routes; drop those so only the test topics are read.
    shipped = load_config({}).section("processors")["routes"]
    overlay["processors"]["routes"] |= dict.fromkeys(shipped)
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    env = {**os.environ, "OPDBUS_CONFIG": str(path)}
    test_config = load_config(env)
    serde = AvroSerde(registry)
    for kind in ("perizinan", "keuangan", "penduduk_out"):
        serde.encoder(f"{topics[kind]}-value", schemas.current(schema_of[kind]), register=True)
    running = Bus(test_config, env, topics, serde, tmp_path)
    yield running
    running.stop_all()
    forget_workers(test_config)


def forget_workers(config: Config) -> None:
    """What a test's workers leave outside tmp_path: their RocksDB state in the stack's state
    dir and their internal topics (left, they pile up on a kept stack)."""
    shutil.rmtree(app_state_dir(config), ignore_errors=True)
    admin = make_admin(config)
    names = list(internal_topics(config).values())
    for future in admin.delete_topics(names, request_timeout=30).values():
        with contextlib.suppress(KafkaException):  # a worker that failed before making them
            future.result(timeout=30)


def by_event_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["event_id"]: e for e in events}


def test_a_late_population_record_releases_the_waiting_event(bus):
    nik = nik_of(101)
    bus.start()
    bus.wait_ready()
    waiting = bus.event("permohonan", "c", application(501, nik))
    bus.produce("permohonan", [("501", waiting)])
    time.sleep(4)  # the application is in state, waiting for its applicant
    bus.produce("penduduk", [(nik, bus.event("penduduk", "c", citizen(nik)))])
    [out] = bus.decoded("perizinan", 1)
    record = out["after"]
    assert out["event_id"] == waiting["event_id"]
    assert record["pencocokan"] == "COCOK"
    assert record["menunggu_ms"] >= 3000
    assert record["pemohon"]["jenis_kelamin"] == "P"
    assert record["pemohon"]["kode_kelurahan"] == "61.71.02.1003"
    assert record["pemohon"]["kelompok_umur"] == "35-39"


def test_an_unknown_nik_is_released_as_unmatched_after_the_configured_time(bus):
    bus.start()
    started = time.monotonic()
    bus.produce(
        "permohonan", [("502", bus.event("permohonan", "c", application(502, nik_of(102))))]
    )
    [out] = bus.decoded("perizinan", 1)
    assert out["after"]["pencocokan"] == "TIDAK_COCOK"
    assert out["after"]["menunggu_ms"] >= 6000  # unmatched_after_s in the fixture
    assert time.monotonic() - started >= 6
    assert out["after"]["pemohon"] == dict.fromkeys(out["after"]["pemohon"])


def test_the_pks_policy_decides_which_citizen_fields_are_added(bus):
    nik = nik_of(103, female=False)
    bus.produce("penduduk", [(nik, bus.event("penduduk", "c", citizen(nik, status="HIDUP")))])
    bus.start()
    bus.decoded("penduduk_out", 1)
    bus.produce("permohonan", [("503", bus.event("permohonan", "c", application(503, nik)))])
    [out] = bus.decoded("perizinan", 1)
    # dpmptsp's PKS (config/opdbus.yaml) lists four elements; civil status is not one of them.
    assert out["after"]["pemohon"]["jenis_kelamin"] == "L"
    assert out["after"]["pemohon"]["kode_kecamatan"] == "61.71.02"
    assert out["after"]["pemohon"]["status"] is None


def test_an_older_population_update_never_overwrites_a_newer_one(bus):
    nik = nik_of(104)
    newer = bus.event(
        "penduduk",
        "u",
        citizen(nik, kelurahan="61.71.04.1002", updated_at=dt.datetime(2026, 3, 1, tzinfo=UTC)),
    )
    older = bus.event("penduduk", "u", citizen(nik, kelurahan="61.71.01.1004"))
    older["source"]["ts_ms"] = newer["source"]["ts_ms"] - 60_000  # committed a minute earlier
    bus.produce("penduduk", [(nik, newer), (nik, older)])
    bus.start()
    outputs = bus.decoded("penduduk_out", 1)
    time.sleep(3)
    assert [o["event_id"] for o in outputs] == [newer["event_id"]]
    bus.produce("permohonan", [("504", bus.event("permohonan", "c", application(504, nik)))])
    [out] = bus.decoded("perizinan", 1)
    assert out["after"]["pemohon"]["kode_kelurahan"] == "61.71.04.1002"


def test_an_invalid_nik_lands_in_the_dlq_with_its_reason_while_the_stream_goes_on(bus):
    bad = application(505, "6171017203900001")  # day code 72: neither 01-31 nor 41-71
    good_nik = nik_of(105)
    bus.produce("penduduk", [(good_nik, bus.event("penduduk", "c", citizen(good_nik)))])
    bus.produce(
        "permohonan",
        [
            ("505", bus.event("permohonan", "c", bad)),
            ("506", bus.event("permohonan", "c", application(506, good_nik))),
        ],
    )
    bus.produce(
        "anggaran",
        [
            (
                "1",
                bus.event(
                    "anggaran",
                    "c",
                    {
                        "id": 1,
                        "tahun": 2026,
                        "kode_opd": "dinas-tak-dikenal",
                        "kode_program": "1.02.02",
                        "kode_kegiatan": "1.02.02.2.01",
                        "nama_kegiatan": "Uji",
                        "pagu": Decimal("100.00"),
                        "rencana_kas": [Decimal("0.00")] * 12,
                        "updated_at": dt.datetime(2026, 1, 2, tzinfo=UTC),
                    },
                ),
            )
        ],
    )
    bus.start()
    [out] = bus.decoded("perizinan", 1)
    assert out["after"]["id_permohonan"] == 506
    dead = bus.read("dlq", 2)
    headers = {m.key(): dict(m.headers()) for m in dead}
    nik_dead = headers[b"505"]
    assert nik_dead[b"opdbus.dlq.topic".decode()] == bus.topics["permohonan"].encode()
    assert nik_dead["opdbus.dlq.error.field"] == b"nik_pemohon"
    assert b"day code 72" in nik_dead["opdbus.dlq.error.rule"]
    assert nik_dead["opdbus.dlq.stage"] == b"processor.validate"
    assert {
        "opdbus.dlq.partition",
        "opdbus.dlq.offset",
        "opdbus.dlq.error.class",
        "opdbus.dlq.error.message",
    } <= set(nik_dead)
    assert headers[b"1"]["opdbus.dlq.error.field"] == b"kode_opd"
    # The original bytes are kept whole, so nothing of the input is lost.
    assert bus.serde.decode(dead[0].value())["event_id"]


def test_integrated_topics_carry_pseudonyms_and_never_the_nik_or_name(bus):
    nik = nik_of(106)
    bus.produce("penduduk", [(nik, bus.event("penduduk", "c", citizen(nik)))])
    bus.produce("permohonan", [("507", bus.event("permohonan", "c", application(507, nik)))])
    bus.start()
    for kind in ("perizinan", "penduduk_out"):
        [msg] = bus.read(kind, 1)
        assert nik.encode() not in msg.value() and nik.encode() not in msg.key()
        assert b"Warga Uji" not in msg.value() and b"1990-03" not in msg.value()
        assert len(bus.serde.decode(msg.value())["after"]["nik_pseudonim"]) == 64


def state_dir(bus: Bus, worker: int = 0) -> Path:
    return worker_state_dir(bus.config, worker)


def everything_on(bus: Bus, kind: str, quiet_s: float = 3) -> list[Message]:
    """Every message on an output, read until nothing new arrives for quiet_s."""
    consumer = make_consumer(bus.config, f"test-read-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([bus.topics[kind]])
    got: list[Message] = []
    last = time.monotonic()
    try:
        while time.monotonic() - last < quiet_s:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg)
                last = time.monotonic()
    finally:
        consumer.close()
    return got


def test_a_worker_without_its_state_rebuilds_the_population_and_sends_nothing_twice(bus):
    niks = [nik_of(600 + i, female=i % 2 == 0) for i in range(40)]
    bus.produce("penduduk", [(n, bus.event("penduduk", "c", citizen(n))) for n in niks])
    bus.start()
    bus.read("penduduk_out", len(niks))
    assert bus.kill(sig=signal.SIGTERM) == 0
    shutil.rmtree(state_dir(bus))  # a new machine, or a lost disk
    app = bus.event("permohonan", "c", application(6000, niks[7]))
    bus.produce("permohonan", [("6000", app)])
    bus.start()
    outputs = bus.decoded_until("perizinan", {app["event_id"]}, timeout_s=90)
    [out] = [o for o in outputs if o["event_id"] == app["event_id"]]
    assert out["after"]["pencocokan"] == "COCOK" and out["after"]["menunggu_ms"] == 0
    log = (bus.logs / "worker-0.log").read_text()
    assert sum(int(n) for n in re.findall(r"\((\d+) population events read again", log)) == 40
    # The rebuild read the population topic without sending its outputs again.
    assert len(everything_on(bus, "penduduk_out")) == len(niks)


def test_waiting_events_survive_a_lost_state_directory(bus):
    nik = nik_of(700)
    app = bus.event("permohonan", "c", application(7000, nik))
    bus.produce("permohonan", [("7000", app)])
    bus.start()
    bus.wait_ready()
    deadline = time.monotonic() + 60
    while "waiting" not in outcomes(bus):
        assert time.monotonic() < deadline, "the application never waited"
        time.sleep(0.3)
    assert bus.kill(sig=signal.SIGTERM) == 0
    shutil.rmtree(state_dir(bus))
    bus.start()
    bus.wait_ready()
    bus.produce("penduduk", [(nik, bus.event("penduduk", "c", citizen(nik)))])
    outputs = bus.decoded_until("perizinan", {app["event_id"]}, timeout_s=90)
    # Released by its citizen, or by the unmatched timer if the restart took longer than
    # unmatched_after_s: either way from the changelog, since its input offset was committed.
    [out] = [o for o in outputs if o["event_id"] == app["event_id"]]
    assert out["after"]["menunggu_ms"] > 0


def test_kill_9_mid_stream_then_restart_gives_every_input_its_output(bus):
    niks = [nik_of(200 + i, female=i % 2 == 0) for i in range(150)]
    bus.produce("penduduk", [(n, bus.event("penduduk", "c", citizen(n))) for n in niks])
    sent = [
        bus.event("permohonan", "c", application(1000 + i, niks[i % len(niks)])) for i in range(600)
    ]
    bus.start()
    bus.produce("permohonan", [(str(e["after"]["id_permohonan"]), e) for e in sent[:300]])
    bus.read("perizinan", 50)  # mid-stream
    assert bus.kill() == -signal.SIGKILL
    bus.produce("permohonan", [(str(e["after"]["id_permohonan"]), e) for e in sent[300:]])
    bus.start()
    want = {e["event_id"] for e in sent}
    outputs = bus.decoded_until("perizinan", want, timeout_s=180)
    assert {o["event_id"] for o in outputs} == want  # nothing lost, nothing invented
    assert all(o["after"]["pencocokan"] == "COCOK" for o in outputs)


def group_members(bus: Bus) -> list[int]:
    """Partitions each member of the processor's consumer group holds."""
    group = bus.config.section("processors")["app_id"]
    admin = make_admin(bus.config)
    [described] = admin.describe_consumer_groups([group], request_timeout=10).values()
    try:
        members = described.result(timeout=15).members
    except Exception:
        return []
    return [len(m.assignment.topic_partitions) for m in members]


def processor_counts(bus: Bus, worker: int = 0) -> dict[str, float]:
    """opdbus_processor_events_total by outcome, from the worker's /metrics."""
    port = int(bus.config.section("metrics")["ports"]["processor"]) + worker
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        found = re.match(r'opdbus_processor_events_total\{.*outcome="(\w+)".*\} (\S+)', line)
        if found:
            counts[found[1]] = counts.get(found[1], 0) + float(found[2])
    return counts


def outcomes(bus: Bus, worker: int = 0) -> dict[str, float]:
    try:
        return processor_counts(bus, worker)
    except OSError:  # not serving yet
        return {}


def processed_by(bus: Bus, worker: int) -> float:
    return sum(processor_counts(bus, worker).values())


def start_two_workers(bus: Bus) -> None:
    """Workers 0 and 1, started and each holding partitions."""
    bus.start(0)
    bus.start(1)
    deadline = time.monotonic() + 120
    while sorted(n > 0 for n in group_members(bus)) != [True, True]:
        for worker, proc in bus.workers.items():
            assert proc.poll() is None, f"worker {worker} exited; see {bus.logs}"
        assert time.monotonic() < deadline, f"group never split: {group_members(bus)}"
        time.sleep(1)


def test_two_workers_split_the_partitions_and_still_join_correctly(bus):
    niks = [nik_of(400 + i, female=i % 3 == 0) for i in range(120)]
    start_two_workers(bus)
    bus.produce("penduduk", [(n, bus.event("penduduk", "c", citizen(n))) for n in niks])
    apps = [bus.event("permohonan", "c", application(3000 + i, n)) for i, n in enumerate(niks)]
    bus.produce("permohonan", [(str(e["after"]["id_permohonan"]), e) for e in apps])
    outputs = by_event_id(
        bus.decoded_until("perizinan", {e["event_id"] for e in apps}, timeout_s=180)
    )
    assert set(outputs) == {e["event_id"] for e in apps}
    for sent in apps:
        out = outputs[sent["event_id"]]["after"]
        # Applications may arrive before their citizen; a co-partitioned join still finds it.
        assert out["pencocokan"] == "COCOK", "a lookup missed: the join is not co-partitioned"
        female = int(sent["after"]["nik_pemohon"][6:8]) > 40
        assert out["pemohon"]["jenis_kelamin"] == ("P" if female else "L")
    assert processed_by(bus, 0) > 0 and processed_by(bus, 1) > 0


def test_a_worker_left_alone_reads_back_what_was_re_keyed_then_skips_the_hop(bus):
    niks = [nik_of(800 + i, female=i % 2 == 0) for i in range(80)]
    bus.produce("penduduk", [(n, bus.event("penduduk", "c", citizen(n))) for n in niks])
    start_two_workers(bus)
    apps = [application(8000 + i, n) for i, n in enumerate(niks)]
    created = [bus.event("permohonan", "c", app) for app in apps]
    bus.produce("permohonan", [(str(e["after"]["id_permohonan"]), e) for e in created])
    log = bus.logs / "worker-0.log"
    before = len(log.read_text())  # it skipped the hop once, alone before worker 1 came
    assert bus.kill(1, sig=signal.SIGTERM) == 0  # leaves while applications are re-keyed
    deadline = time.monotonic() + 120
    while "applications are taken straight" not in log.read_text()[before:]:
        assert time.monotonic() < deadline, f"worker 0 never skipped the hop; see {log}"
        time.sleep(0.5)
    by_nik = internal_topics(bus.config)["by_nik"]
    rekeyed = topic_size(bus.config, by_nik)
    assert rekeyed >= 1  # the two workers did re-key
    updated = [bus.event("permohonan", "u", app | {"status": "DIVERIFIKASI"}) for app in apps]
    bus.produce("permohonan", [(str(e["after"]["id_permohonan"]), e) for e in updated])
    want = {e["event_id"] for e in created + updated}
    outputs = bus.decoded_until("perizinan", want, timeout_s=180)
    assert {o["event_id"] for o in outputs} >= want
    assert all(o["after"]["pencocokan"] == "COCOK" for o in outputs)
    statuses: dict[int, list[str]] = {}
    for out in outputs:  # one application's outputs share a key, hence a partition: in order
        statuses.setdefault(out["after"]["id_permohonan"], []).append(out["after"]["status"])
    assert all(s.index("DIAJUKAN") < s.index("DIVERIFIKASI") for s in statuses.values())
    assert (
        topic_size(bus.config, internal_topics(bus.config)["by_nik"]) == rekeyed
    )  # the updates did not take the hop


def test_a_population_topic_with_another_partition_count_is_refused(config, new_topic, tmp_path):
    """Re-keying aims at processors.partitions partitions: a population topic with another
    count would put every application beside the wrong citizens, so the worker refuses."""
    population = new_topic("test.penduduk", 3, compacted=True)
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "metrics": {"ports": {"processor": free_port()}},
                "processors": {
                    "app_id": f"test-proc-{uuid.uuid4().hex[:8]}",
                    "population": {"input": population, "output": population},
                },
            }
        )
    )
    done = opdbus("process", env={"OPDBUS_CONFIG": str(overlay)}, timeout=120)
    forget_workers(load_config({**os.environ, "OPDBUS_CONFIG": str(overlay)}))
    assert done.returncode != 0
    assert f"{population} has 3 partitions but processors.partitions is 6" in done.stderr
