"""Observability on the real stack: the lag collector runs as `opdbus lag`, the stack's own
Prometheus scrapes it, and its query API returns the lag of a consumer group we set up with a
known lag; `opdbus status` reads the same from the broker and fails while a component is down.

The running Prometheus may predate metrics.ports.lag-collector: its file_sd targets file is
rewritten here from config (what `opdbus stack up` writes), and Prometheus picks it up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from confluent_kafka import TopicPartition

from opdbus.config import Config
from opdbus.kafka import ensure_topics, make_admin, make_consumer, make_producer, topic_spec
from opdbus.observe.prom import query
from opdbus.stack.manager import Stack
from opdbus.stack.process import free_port
from opdbus.stack.prometheus import local_targets

from .cli import OPDBUS, opdbus

PRODUCED, COMMITTED = 10, 4  # so the group's lag on partition 0 is 6
DEAD_LETTERS = 3
WAIT_S = 90  # scrape every 5s; file_sd and the first pass add a few seconds


@dataclass
class Observed:
    group: str
    topic: str
    dlq_topic: str
    source: str
    slot: str
    slot_lag_at_start: int
    env: dict[str, str]
    metrics_url: str
    collector: subprocess.Popen


def eventually(what: str, probe: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
    """Poll probe until it returns something truthy; fail naming what never happened."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(1)
    pytest.fail(f"{what} within {timeout_s}s (last: {last!r})")


def prom_values(config: Config, promql: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s["metric"].items())): float(s["value"][1])
        for s in query(config.prometheus_url, promql, 10)
    }


def prom_value(config: Config, promql: str) -> float | None:
    values = list(prom_values(config, promql).values())
    assert len(values) <= 1, f"{promql} matches several series: {values}"
    return values[0] if values else None


def http_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def produce_to_partition(config: Config, topic: str, count: int, partition: int = 0) -> None:
    producer = make_producer(config)
    errors: list[object] = []
    for i in range(count):
        producer.produce(
            topic,
            key=f"k{i}".encode(),
            value=b"x",
            partition=partition,
            on_delivery=lambda err, _msg: errors.append(err) if err else None,
        )
    assert producer.flush(30) == 0 and not errors, errors


def commit(config: Config, group: str, topic: str, partition: int, offset: int) -> None:
    consumer = make_consumer(config, group_id=group)
    try:
        consumer.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
    finally:
        consumer.close()


def slot_lag(conn: psycopg.Connection, slot: str) -> int:
    row = conn.execute(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
        "FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    ).fetchone()
    assert row is not None, f"slot {slot} missing"
    return int(row[0])


def status(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    done = opdbus("status", "--json", env=env, timeout=120)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def new_topic_module(stack: Stack, config: Config) -> Iterator[Callable[..., str]]:
    """Like conftest's new_topic, for module-scoped fixtures."""
    admin = make_admin(config)
    made: list[str] = []

    def make(prefix: str, partitions: int) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        ensure_topics(admin, [topic_spec(name, partitions)])
        made.append(name)
        return name

    yield make
    for future in admin.delete_topics(made, request_timeout=30).values():
        future.result(timeout=30)


@pytest.fixture(scope="module")
def slot_database(stack: Stack, config: Config) -> Iterator[str]:
    """A database of our own with a logical slot of the same name that holds back some WAL."""
    name = f"test_observe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(config.postgres_url("opdbus"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(config.postgres_url(name), autocommit=True) as conn:
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (name,))
            conn.execute("CREATE TABLE t (id int PRIMARY KEY, body text)")
            conn.execute("INSERT INTO t SELECT i, repeat('x', 100) FROM generate_series(1, 500) i")
            assert slot_lag(conn, name) > 0
        yield name
    finally:
        with psycopg.connect(config.postgres_url("opdbus"), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="module")
def observed(
    stack: Stack,
    config: Config,
    new_topic_module: Callable[..., str],
    slot_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Observed]:
    topic = new_topic_module("observe", partitions=3)
    dlq_topic = new_topic_module("dlq.observe-test", partitions=2)
    group = f"opdbus-observe-test-{uuid.uuid4().hex[:8]}"
    produce_to_partition(config, topic, PRODUCED)
    produce_to_partition(config, dlq_topic, DEAD_LETTERS, partition=1)
    commit(config, group, topic, 0, COMMITTED)

    database = slot = slot_database
    source = f"obs_{database[-8:]}"
    with psycopg.connect(config.postgres_url(database)) as conn:
        lag_at_start = slot_lag(conn, slot)
    overlay = {
        "sources": {
            source: {
                "connector": "cdc",
                "opd": "test",
                "system": "test",
                "database": database,
                "slot": slot,
                "tables": {"t": {"topic": topic, "key": ["id"]}},
            }
        },
        "observe": {
            "interval_s": 1,
            "include_groups": ["^opdbus-observe-test-"],
            "exclude_groups": [],
            "expected_interval_s": {source: 3600},
        },
    }
    overlay_file = tmp_path_factory.mktemp("observe") / "overlay.yaml"
    overlay_file.write_text(yaml.safe_dump(overlay))
    env = {"OPDBUS_CONFIG": str(overlay_file)}

    # What `opdbus stack up` writes today, lag-collector included; file_sd reloads it.
    targets = stack.layout.conf("prometheus-targets.yml")
    targets.write_text(yaml.safe_dump(local_targets(config)))

    metrics = config.section("metrics")
    metrics_url = f"http://{metrics['host']}:{metrics['ports']['lag-collector']}/metrics"
    assert not http_text(metrics_url), f"something already serves {metrics_url}"
    log = (tmp_path_factory.getbasetemp() / "lag-collector.log").open("w")
    collector = subprocess.Popen(
        [OPDBUS, "lag"], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        eventually(
            "the lag collector serving its first pass",
            lambda: (
                collector.poll() is None and "opdbus_lag_collector_up{" in http_text(metrics_url)
            ),
            timeout_s=30,
        )
        yield Observed(
            group, topic, dlq_topic, source, slot, lag_at_start, env, metrics_url, collector
        )
    finally:
        stop(collector)
        log.close()
        admin = make_admin(config)
        for future in admin.delete_consumer_groups([group], request_timeout=30).values():
            future.result(timeout=30)


def test_prometheus_returns_consumer_lag_of_a_group_as_end_minus_committed(observed, config):
    promql = f'opdbus_consumer_lag_messages{{group="{observed.group}"}}'
    series = eventually(
        f"Prometheus returning {promql}", lambda: prom_values(config, promql) or None
    )
    by_partition = {dict(labels)["partition"]: value for labels, value in series.items()}
    # Only partition 0 was committed; the other two have no lag to report.
    assert by_partition == {"0": PRODUCED - COMMITTED}
    labels = dict(next(iter(series)))
    assert labels["topic"] == observed.topic
    assert (labels["job"], labels["component"]) == ("opdbus", "lag-collector")


def test_prometheus_returns_the_slot_lag_of_a_cdc_source_in_bytes(observed, config):
    promql = f'opdbus_replication_slot_lag_bytes{{source="{observed.source}"}}'
    value = eventually(f"Prometheus returning {promql}", lambda: prom_value(config, promql))
    # The slot never advances; WAL from anyone's writes only adds to it.
    assert value >= observed.slot_lag_at_start > 0
    assert prom_value(config, f'{promql[:-1]}, slot="{observed.slot}"}}') == value


def test_prometheus_returns_dead_letter_count_freshness_and_reachability(observed, config):
    dlq = f'opdbus_dlq_messages{{topic="{observed.dlq_topic}"}}'
    assert eventually(f"Prometheus returning {dlq}", lambda: prom_value(config, dlq)) == (
        DEAD_LETTERS
    )
    fresh = f'opdbus_source_freshness_seconds{{source="{observed.source}"}}'
    age = eventually(f"Prometheus returning {fresh}", lambda: prom_value(config, fresh))
    assert 0 <= age < 600, f"messages produced minutes ago, freshness says {age}s"
    limit = f'opdbus_source_expected_interval_seconds{{source="{observed.source}"}}'
    assert prom_value(config, limit) == 3600
    up = prom_values(config, 'opdbus_lag_collector_up{component="lag-collector"}')
    by_target = {dict(labels)["target"]: value for labels, value in up.items()}
    assert by_target["kafka"] == 1 and by_target[f"postgres:{observed.source}"] == 1


def test_status_json_reports_the_group_lag_read_from_the_broker(observed, config):
    eventually(
        "Prometheus scraping the lag collector",
        lambda: prom_value(config, 'up{job="opdbus", component="lag-collector"}') == 1,
    )
    code, report = status(observed.env)
    lag = report["consumer_lag"][observed.group]
    assert lag == {
        "total": PRODUCED - COMMITTED,
        "topics": {observed.topic: {"0": PRODUCED - COMMITTED}},
    }
    assert report["components"]["lag-collector"] == "up"
    assert report["slots"][observed.source]["lag_bytes"] >= observed.slot_lag_at_start
    assert report["dead_letters"][observed.dlq_topic] == DEAD_LETTERS
    assert not any("lag-collector" in p for p in report["problems"]), report["problems"]
    assert (code == 0) == report["healthy"], (code, report["problems"])


def test_lag_collector_keeps_running_and_reports_up_0_when_kafka_is_unreachable(
    observed, tmp_path: Path
):
    port = free_port()
    overlay = tmp_path / "no-kafka.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "kafka": {"bootstrap.servers": f"127.0.0.1:{free_port()}"},
                "metrics": {"ports": {"lag-collector": port}},
                "observe": {"interval_s": 1, "timeout_s": 2},
            }
        )
    )
    process = subprocess.Popen(
        [OPDBUS, "lag"],
        env={**os.environ, "OPDBUS_CONFIG": str(overlay)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        eventually(
            "opdbus_lag_collector_up{target=kafka} 0",
            lambda: 'opdbus_lag_collector_up{target="kafka"} 0.0' in http_text(url),
            timeout_s=60,
        )
        time.sleep(5)  # a few more failed passes
        assert process.poll() is None, "the collector exited instead of reporting"
        assert 'opdbus_lag_collector_up{target="kafka"} 0.0' in http_text(url)
    finally:
        stop(process)
    output = process.stdout.read() if process.stdout else ""
    assert output.count("cannot reach kafka") == 1, output
    assert "Traceback" not in output, output


def test_status_exits_non_zero_naming_the_lag_collector_once_it_is_down(observed, config):
    stop(observed.collector)
    eventually(
        "Prometheus seeing the lag collector down",
        lambda: prom_value(config, 'up{job="opdbus", component="lag-collector"}') == 0,
    )
    code, report = status(observed.env)
    assert report["components"]["lag-collector"] == "down"
    assert "lag-collector is down (Prometheus cannot scrape it)" in report["problems"]
    assert code == 3 and not report["healthy"]


def test_status_says_prometheus_is_unreachable_and_exits_non_zero(stack):
    port = str(free_port())
    done = opdbus("status", env={"OPDBUS_STACK__PROMETHEUS__PORT": port}, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"PROMETHEUS UNREACHABLE: Prometheus at http://127.0.0.1:{port} unreachable" in (
        done.stdout
    )
    assert "Traceback" not in done.stderr, done.stderr
