"""`opdbus stack` against the real services: status contract, idempotent up, clear failures,
an outside client on the printed endpoints, and Kafka's own tools from the jars."""

from __future__ import annotations

import json
import socket
import uuid

import psycopg
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from opdbus import schemas
from opdbus.stack import distribution
from opdbus.stack.kafka import Kafka

from .cli import opdbus
from .samples import APICURIO_SERIALIZER_CONF, penduduk_event


def status_json() -> dict:
    done = opdbus("stack", "status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_status_json_shows_every_service_up_with_its_endpoint(stack):
    status = status_json()
    assert {name: svc["state"] for name, svc in status["services"].items()} == {
        "postgres": "up",
        "kafka": "up",
        "registry": "up",
        "prometheus": "up",
    }
    assert status["kafka"].count(":") == 1
    assert status["registry"].startswith("http://") and status["registry"].endswith(
        "/apis/ccompat/v7"
    )
    assert status["postgres"].startswith("postgresql://")
    assert status["prometheus"].startswith("http://")


def test_second_up_is_harmless_and_keeps_the_same_processes(stack):
    before = {name: svc["pid"] for name, svc in status_json()["services"].items()}
    done = opdbus("stack", "up")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("already running") == 4
    after = {name: svc["pid"] for name, svc in status_json()["services"].items()}
    assert after == before


def test_postgres_has_logical_wal_wal2json_and_the_separate_databases(stack):
    with psycopg.connect(status_json()["postgres"]) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        slot = f"test_{uuid.uuid4().hex[:8]}"
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'wal2json', true)", (slot,))
    assert {"siak", "perizinan", "keuangan", "apicurio", "opdbus"} <= names


def test_outside_client_produces_and_consumes_avro_on_the_printed_endpoints(stack, new_topic):
    status = status_json()
    topic = new_topic("test.outside")
    registry = SchemaRegistryClient({"url": status["registry"], "timeout": 10})
    serializer = AvroSerializer(
        registry, json.dumps(schemas.current("penduduk")), conf=APICURIO_SERIALIZER_CONF
    )
    event = penduduk_event()
    producer = Producer({"bootstrap.servers": status["kafka"]})
    ctx = SerializationContext(topic, MessageField.VALUE)
    producer.produce(topic, key=b"6171015203900001", value=serializer(event, ctx))
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": status["kafka"],
            "group.id": f"outside-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    msg = None
    for _ in range(30):
        msg = consumer.poll(1.0)
        if msg is not None:
            break
    consumer.close()
    assert msg is not None and msg.error() is None
    assert AvroDeserializer(registry)(msg.value(), ctx)["after"]["nik"] == "6171015203900001"


def test_a_taken_port_fails_with_one_line_naming_the_port_and_the_fix(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = opdbus(
            "stack",
            "up",
            env={
                "OPDBUS_STACK__STATE_DIR": str(tmp_path / "state"),
                "OPDBUS_STACK__POSTGRES__PORT": str(port),
            },
        )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert f"port 127.0.0.1:{port} is taken" in line
    assert "OPDBUS_STACK__POSTGRES__PORT" in line


def test_kafka_perf_tools_from_the_jars_work_against_the_broker(stack, config, new_topic):
    topic = new_topic("test.perf")
    broker = Kafka(config, stack.layout, None).endpoint
    produced = distribution.kafka_tool(
        stack.layout,
        "ProducerPerformance",
        *("--topic", topic, "--num-records", "2000", "--record-size", "200"),
        *("--throughput", "-1", "--producer-props", f"bootstrap.servers={broker}", "acks=all"),
        timeout_s=120,
    )
    assert "2000 records sent" in produced.stdout
    consumed = distribution.kafka_tool(
        stack.layout,
        "ConsumerPerformance",
        *("--topic", topic, "--messages", "2000", "--bootstrap-server", broker),
        *("--timeout", "60000"),
        timeout_s=120,
    )
    # The data line: start, end, MB, MB/s, messages, ...; messages is the fifth column.
    data = consumed.stdout.strip().splitlines()[-1].split(",")
    assert int(data[4].strip()) == 2000
