"""Processor throughput with a city-sized population in state (issue 4's benchmark).

    .venv/bin/python benchmarks/processor.py [--citizens 690000] [--applications 100000]

On the running local stack, in topics of its own: produces --citizens population events and
--applications licence applications (each naming a known citizen), then times one processor
worker (RocksDB store) building the population state from scratch, and the same worker,
restarted on its state, enriching the applications. The baseline, measured in the same run
on the same topic, is Kafka's own ConsumerPerformance reading the population topic.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from opdbus import config as config_module
from opdbus import schemas
from opdbus.envelope import Source, make_event
from opdbus.kafka import (
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
    produce,
    topic_spec,
)
from opdbus.processors.state import app_state_dir, worker_state_dir
from opdbus.processors.steps import internal_topics
from opdbus.serde import AvroSerde
from opdbus.stack import distribution
from opdbus.stack.manager import Stack
from opdbus.stack.process import cpu_seconds, free_port, peak_rss_mib

PARTITIONS = 6
KELURAHAN = ["61.71.01.1002", "61.71.02.1003", "61.71.03.1001", "61.71.04.1002", "61.71.05.1001"]


def nik(i: int) -> tuple[str, dt.date, str]:
    """A valid, unique Pontianak NIK for index i, with its birth date and sex."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=i % 25000)
    female = i % 2 == 0
    day = born.day + (40 if female else 0)
    return (
        f"6171{1 + i % 6:02d}{day:02d}{born.month:02d}{born.year % 100:02d}{i // 25000 + 1:04d}",
        born,
        "P" if female else "L",
    )


def produce_rows(config, topic: str, entity: str, rows, key_of, serde: AvroSerde) -> float:
    encoder = serde.encoder(f"{topic}-value", schemas.current(entity), register=True)
    producer = make_producer(config, **{"linger.ms": 50, "batch.size": 1_000_000})
    started = time.monotonic()
    system = {"penduduk": ("disdukcapil", "siak"), "permohonan": ("dpmptsp", "perizinan")}[entity]
    for n, row in enumerate(rows):
        source = Source(*system, system[1], entity, f"bench-{n}", int(time.time() * 1000))
        value = encoder.encode(make_event("c", source, after=row))
        produce(producer, topic, key=key_of(row).encode(), value=value)
        if n % 10000 == 0:
            producer.poll(0)
            print(f"\r  produced {n:,} {entity}", end="", flush=True)
    producer.flush()
    print()
    return time.monotonic() - started


def high_watermarks(consumer, topic: str) -> int:
    return sum(
        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(PARTITIONS)
    )


def wait_for(config, topic: str, count: int, label: str, worker: subprocess.Popen) -> float:
    """Seconds until topic holds count messages, checked every 50 ms (a progress line a
    second)."""
    consumer = make_consumer(config, f"bench-{uuid.uuid4().hex[:6]}")
    started = time.monotonic()
    shown = started
    try:
        while (done := high_watermarks(consumer, topic)) < count:
            if worker.poll() is not None:
                sys.exit(f"processor exited with {worker.returncode}")
            if time.monotonic() - shown >= 1:
                rate = done / max(time.monotonic() - started, 1e-9)
                print(f"\r  {label}: {done:,}/{count:,} ({rate:,.0f}/s)", end="", flush=True)
                shown = time.monotonic()
            time.sleep(0.05)
    finally:
        consumer.close()
    print()
    return time.monotonic() - started


def rewind(config, group: str, topic: str) -> None:
    """The group's offsets on topic back to the start (the group must have no member)."""
    offsets = [TopicPartition(topic, p, 0) for p in range(PARTITIONS)]
    admin = make_admin(config)  # kept referenced until the futures resolve
    for future in admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, offsets)]
    ).values():
        future.result(timeout=30)


def kafka_consumer_baseline(config, stack: Stack, topic: str, count: int) -> float:
    out = distribution.kafka_tool(
        stack.layout,
        "ConsumerPerformance",
        *("--topic", topic, "--messages", str(count)),
        *("--bootstrap-server", config.bootstrap_servers, "--timeout", "120000"),
    )
    return float(out.stdout.strip().splitlines()[-1].split(",")[5])  # nMsg.sec


def faust_loop_baseline(config, topic: str, count: int) -> float | None:
    """Events/s of faust's agent loop doing nothing, on the same topic (None without faust:
    `pip install -e .[bench]`)."""
    try:
        import faust  # noqa: F401
    except ImportError:
        return None
    app_id = f"bench-faust-loop-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "FAUST_LOOP_APP": app_id,
        "FAUST_LOOP_TOPIC": topic,
        "FAUST_LOOP_COUNT": str(count),
        "FAUST_LOOP_BROKER": f"kafka://{config.bootstrap_servers}",
    }
    with tempfile.TemporaryDirectory() as workdir:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("faust_loop.py")), "worker"],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    admin = make_admin(config)
    for future in admin.delete_topics([f"{app_id}-__assignor-__leader"]).values():
        with contextlib.suppress(KafkaException):  # faust stopped before making it
            future.result(timeout=30)
    found = re.search(r"faust loop: (\d+) events in ([\d.]+) s", done.stdout + done.stderr)
    return int(found[1]) / float(found[2]) if found else None


def restored(log_text: str) -> tuple[int, float]:
    """Population events read again and seconds spent, summed over the assignments."""
    found = re.findall(
        r"\((\d+) population events read again, \d+ NIKs waiting\) in ([\d.]+)s", log_text
    )
    return sum(int(n) for n, _ in found), sum(float(s) for _, s in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=690_000)
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="enrichment runs over the same applications"
    )
    parser.add_argument(
        "--no-faust", action="store_true", help="skip the faust baseline (saves ~2 minutes)"
    )
    parser.add_argument(
        "--profile", type=Path, help="run the worker under cProfile, writing build/enrich .prof"
    )
    args = parser.parse_args()
    config = config_module.load()
    stack = Stack(config)
    run = uuid.uuid4().hex[:6]
    t = {k: f"bench.{run}.{k}" for k in ("penduduk", "permohonan", "perizinan", "pseudonim")}
    t["dlq"] = f"bench.{run}.dlq"
    ensure_topics(
        make_admin(config),
        [
            topic_spec(t["penduduk"], PARTITIONS, compacted=True),
            *(topic_spec(t[k], PARTITIONS) for k in ("permohonan", "perizinan", "pseudonim")),
            topic_spec(t["dlq"], 1),
        ],
    )
    serde = AvroSerde(SchemaRegistryClient(config.registry_client_conf()))
    for kind, entity in (("perizinan", "perizinan"), ("pseudonim", "penduduk_pseudonim")):
        serde.encoder(f"{t[kind]}-value", schemas.current(entity), register=True)

    print(f"population: {args.citizens:,} citizens")
    updated = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    citizens = (
        {
            "nik": n,
            "no_kk": "6171010101200001",
            "nama": "Warga",
            "tanggal_lahir": born,
            "jenis_kelamin": sex,
            "kode_kelurahan": KELURAHAN[i % 5],
            "status": "HIDUP",
            "updated_at": updated,
        }
        for i in range(args.citizens)
        for n, born, sex in [nik(i)]
    )
    produce_rows(config, t["penduduk"], "penduduk", citizens, lambda r: r["nik"], serde)
    baseline = kafka_consumer_baseline(config, stack, t["penduduk"], args.citizens)
    if not args.no_faust:
        print("faust's agent loop on the same topic (baseline)...")
    faust_rate = (
        None if args.no_faust else faust_loop_baseline(config, t["penduduk"], args.citizens)
    )

    app_id = f"bench-proc-{run}"  # the worker's group, state directory and topic prefix
    overlay = {
        "topics": {
            t["penduduk"]: {"schema": "penduduk"},
            t["permohonan"]: {"schema": "permohonan"},
            t["perizinan"]: {"schema": "perizinan"},
            t["pseudonim"]: {"schema": "penduduk_pseudonim"},
            t["dlq"]: {"schema": None},
        },
        "dead_letters": {"processors": t["dlq"]},
        "metrics": {"ports": {"processor": free_port()}},  # beside a running bus's processor
        "processors": {
            "app_id": app_id,
            "routes": {
                **dict.fromkeys(config.section("processors")["routes"]),
                t["permohonan"]: {"output": t["perizinan"], "consumer": "dpmptsp"},
            },
            "population": {"input": t["penduduk"], "output": t["pseudonim"]},
        },
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(overlay, f)
    env = {**os.environ, "OPDBUS_CONFIG": f.name}
    worker_config = config_module.load(env)  # what the worker reads
    log_path = Path(tempfile.mktemp(prefix="bench-processor-", suffix=".log"))

    def start(phase: str) -> tuple[subprocess.Popen, float]:
        """A worker, and the moment it said it is ready (assigned, state restored)."""
        offset = log_path.stat().st_size if log_path.exists() else 0
        command = [str(Path(sys.executable).parent / "opdbus"), "process"]
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            profile = ["-m", "cProfile", "-o", str(args.profile / f"{phase}.prof")]
            command = [sys.executable, *profile, *command]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        while "ready: partitions" not in log_path.read_bytes()[offset:].decode(errors="replace"):
            if proc.poll() is not None:
                sys.exit(f"processor exited with {proc.returncode}; see {log_path}")
            time.sleep(0.05)
        return proc, time.monotonic()

    worker, _ = start("build")
    try:
        build = wait_for(config, t["pseudonim"], args.citizens, "state build", worker)
        build_rss = peak_rss_mib(worker.pid)
        worker.terminate()
        worker.wait(60)
        # The state lost (a new machine): rebuilt from the compacted population topic.
        shutil.rmtree(worker_state_dir(worker_config, 0))
        before = log_path.read_text(errors="replace")
        worker, _ = start("restore")
        rebuilt, restore_s = restored(log_path.read_text(errors="replace")[len(before) :])
        worker.terminate()
        worker.wait(60)
        rng = random.Random(7)
        when = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
        apps = (
            {
                "id_permohonan": i,
                "nomor_permohonan": f"PBG-{i}",
                "jenis_izin": "PBG",
                "nik_pemohon": nik(rng.randrange(args.citizens))[0],
                "kode_kelurahan": KELURAHAN[i % 5],
                "status": "DIAJUKAN",
                "tanggal_pengajuan": when,
                "tanggal_keputusan": None,
                "updated_at": when,
                "kanal": None,
            }
            for i in range(args.applications)
        )
        print(f"applications: {args.applications:,} (produced while no worker runs)")
        produce_rows(
            config, t["permohonan"], "permohonan", apps, lambda r: str(r["id_permohonan"]), serde
        )
        # Timed from the restarted worker's readiness (its state is on disk): look up, enrich,
        # protect and send every application, nothing else competing. Each round after the
        # first sets the group back to the first application and runs a fresh worker again.
        rounds = []
        peak = build_rss
        for round_ in range(args.rounds):
            if round_:
                rewind(config, app_id, t["permohonan"])
            worker, ready = start(f"enrich-{round_ + 1}")
            # CPU per application is steadier than wall time on a shared machine: the main
            # thread (the pid's own task) does all the Python work, librdkafka's threads the rest.
            cpu_before = (cpu_seconds(worker.pid), cpu_seconds(worker.pid, worker.pid))
            total = args.applications * (round_ + 1)
            wait_for(config, t["perizinan"], total, f"enrich, round {round_ + 1}", worker)
            took = time.monotonic() - ready
            main_cpu = cpu_seconds(worker.pid, worker.pid) - cpu_before[1]
            rounds.append((took, main_cpu, cpu_seconds(worker.pid) - cpu_before[0]))
            peak = max(peak, peak_rss_mib(worker.pid))
            worker.terminate()
            worker.wait(60)
    finally:
        worker.terminate()
        worker.wait(60)
        admin = make_admin(config)
        internal = internal_topics(worker_config).values()  # the worker's own
        for future in admin.delete_topics([*t.values(), *internal], request_timeout=30).values():
            future.result(timeout=60)
        shutil.rmtree(app_state_dir(worker_config), ignore_errors=True)
    print(f"\nKafka ConsumerPerformance (baseline): {baseline:,.0f} msg/s")
    if faust_rate:
        print(f"faust agent loop, no work per event (baseline): {faust_rate:,.0f} events/s")
    print(
        f"first processing of the population (state + integrated.penduduk sent): "
        f"{args.citizens:,} in {build:.1f}s = "
        f"{args.citizens / build:,.0f} events/s ({args.citizens / build / baseline:.3f} x baseline)"
        f"  [target <= 60 s]"
    )
    print(
        f"population state rebuilt from the topic (state directory lost): {rebuilt:,} in "
        f"{restore_s:.1f}s = {rebuilt / max(restore_s, 1e-9):,.0f} events/s  [target <= 60 s]"
    )
    for n, (took, main_cpu, all_cpu) in enumerate(rounds, 1):
        print(
            f"validate+enrich+protect, round {n}: {args.applications:,} in {took:.2f}s = "
            f"{args.applications / took:,.0f} events/s ({args.applications / took / baseline:.3f}"
            f" x baseline)  [target >= 10,000/s per worker]"
        )
        print(
            f"  CPU per application: {main_cpu / args.applications * 1e6:.1f} us in the main "
            f"thread (one core would carry {args.applications / main_cpu:,.0f}/s), "
            f"{all_cpu / args.applications * 1e6:.1f} us in all threads"
        )
    best = min(took for took, _, _ in rounds)
    print(f"best round: {args.applications / best:,.0f} events/s")
    print(f"processor peak RSS: {peak:,.0f} MiB  [budget 1,536 MiB]")
    print(f"(worker log: {log_path})")


if __name__ == "__main__":
    main()
