"""`opdbus demo`: the main job on the local stack.

Today it proves the foundation end to end: the stack comes up, schemas are registered, topics
exist, and one Disdukcapil change event round-trips through Kafka and the registry. The later
stages (connectors, processors, sink, M&E report) extend this same command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from opdbus import schemas
from opdbus.config import Config
from opdbus.envelope import Source, make_event
from opdbus.kafka import make_consumer, make_producer
from opdbus.metrics import EVENTS_OUT, serve
from opdbus.provision import provision
from opdbus.schema_cli import subject
from opdbus.serde import AvroSerde
from opdbus.stack.manager import Stack, redact
from opdbus.stack.process import StackError

TOPIC = "opd.disdukcapil.penduduk"


def sample_citizen() -> dict[str, Any]:
    # A woman born 1990-03-12 first registered in Pontianak Selatan: day code 12 + 40 = 52.
    return {
        "nik": "6171015203900001",
        "no_kk": "6171010101200001",
        "nama": "Siti Aminah",
        "tanggal_lahir": dt.date(1990, 3, 12),
        "jenis_kelamin": "P",
        "kode_kelurahan": "61.71.01.1002",
        "status": "HIDUP",
        "updated_at": dt.datetime.now(dt.UTC),
    }


def round_trip(config: Config) -> dict[str, Any]:
    """Produce one penduduk change and read it back by its partition and offset."""
    serde = AvroSerde(SchemaRegistryClient(config.registry_client_conf()))
    encoder = serde.encoder(subject(TOPIC), schemas.current("penduduk"))
    citizen = sample_citizen()
    now_ms = int(time.time() * 1000)
    source = Source("disdukcapil", "siak", "siak", "penduduk", f"demo-{uuid.uuid4()}", now_ms)
    event = make_event("c", source, after=citizen)
    delivered: list[Any] = []
    producer = make_producer(config)
    producer.produce(
        TOPIC,
        key=citizen["nik"].encode(),
        value=encoder.encode(event),
        on_delivery=lambda err, msg: delivered.append(err or msg),
    )
    producer.flush(30)
    if not delivered or not hasattr(delivered[0], "offset"):
        raise StackError(f"demo event was not acknowledged by Kafka: {delivered}")
    msg = delivered[0]
    EVENTS_OUT.labels("demo", TOPIC).inc()
    consumer = make_consumer(config, group_id=f"opdbus-demo-{uuid.uuid4()}")
    try:
        consumer.assign([TopicPartition(TOPIC, msg.partition(), msg.offset())])
        read = consumer.poll(30)
    finally:
        consumer.close()
    if read is None or read.error():
        raise StackError(f"demo event could not be read back: {read and read.error()}")
    return {
        "partition": msg.partition(),
        "offset": msg.offset(),
        "event": serde.decode(read.value()),
    }


def _run(args: argparse.Namespace, config: Config) -> int:
    stack = Stack(config)
    if args.external:
        print(f"1/3 using Kafka {config.bootstrap_servers}, registry {config.registry_url}")
    else:
        print("1/3 starting the local stack")
        stack.up(progress=lambda line: print(f"    {line}"))
    port = serve(config, "demo")
    print(f"    metrics on :{port}/metrics")
    print("2/3 registering schemas and declaring topics")
    done = provision(config)
    print(
        f"    {len(done.subjects)} subjects, {done.topics_declared} topics "
        f"({len(done.topics_created)} new)"
    )
    print("3/3 round-tripping one Disdukcapil change through Kafka and the registry")
    result = round_trip(config)
    event = result["event"]
    print(
        f"    {TOPIC}[{result['partition']}]@{result['offset']}: op={event['op']} "
        f"event_id={event['event_id']} kelurahan={event['after']['kode_kelurahan']}"
    )
    if args.external:
        return 0
    status = stack.status()
    print("\nThe stack keeps running:")
    for key in ("kafka", "registry", "prometheus"):
        print(f"  {key:<11}{status[key]}")
    print(
        f"  {'postgres':<11}{redact(status['postgres'])} "
        f"(password in {config.state_dir}/secrets/postgres)"
    )
    print("Stop everything with: opdbus stack down")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the main job on the local stack",
        description="Start the local stack (unless --external), prepare the bus and run "
        "city activity through it.",
    )
    parser.add_argument(
        "--external",
        action="store_true",
        help="use the configured Kafka/registry instead of starting the local stack",
    )
    parser.set_defaults(run=_run)
