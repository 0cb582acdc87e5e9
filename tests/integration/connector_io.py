"""Helpers for the polling and file-drop connector tests (no tests here).

A connector runs as `opdbus connect <source>` in a subprocess, pointed by an OPDBUS_CONFIG
overlay at the test's own source, topics, dead-letter topic and metrics port, so it can be
stopped with SIGTERM or killed with SIGKILL like in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml
from confluent_kafka import KafkaException, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from opdbus import schemas
from opdbus.config import Config
from opdbus.kafka import make_consumer
from opdbus.schema_cli import subject
from opdbus.serde import AvroSerde
from opdbus.stack.process import free_port

from .cli import OPDBUS


def register(serde: AvroSerde, topic: str, entity: str) -> None:
    """What `opdbus schemas register` does for a declared topic."""
    serde.encoder(subject(topic), schemas.current(entity), register=True)


@dataclass
class ConnectorProcess:
    """One `opdbus connect` subprocess and its log."""

    source: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None

    def start(self) -> ConnectorProcess:
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [OPDBUS, "connect", self.source, "--log-level", "DEBUG"],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM: the connector commits its last batch and exits."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL: no chance to flush or save anything."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> ConnectorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive():
            self.kill()


def connector(
    tmp_path: Path, source: str, spec: dict[str, Any], topics: dict[str, str], dlq: str
) -> ConnectorProcess:
    """A connector for `source` (not started), with its own overlay and metrics port."""
    overlay = {
        "sources": {source: spec},
        "topics": {topic: {"schema": entity} for topic, entity in topics.items()},
        "dead_letters": {"connectors": dlq},
        "metrics": {"ports": {f"connector-{source}": free_port()}},
    }
    path = tmp_path / f"overlay-{source}.yaml"
    path.write_text(yaml.safe_dump(overlay))
    return ConnectorProcess(source, {"OPDBUS_CONFIG": str(path)}, tmp_path / f"{source}.log")


def metrics_port(process: ConnectorProcess) -> int:
    overlay = yaml.safe_load(Path(process.env["OPDBUS_CONFIG"]).read_text())
    return overlay["metrics"]["ports"][f"connector-{process.source}"]


def _end_offsets(consumer: Any, topic: str, timeout_s: float = 15) -> dict[int, int]:
    """High watermarks of the non-empty partitions; a topic created a moment ago may not have
    its leaders yet, so transient errors are retried."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            ends = {}
            for partition in metadata.partitions:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                if high > 0:
                    ends[partition] = high
            return ends
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def scrape(process: ConnectorProcess, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of one metric the running connector serves."""
    port = metrics_port(process)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def read_all(config: Config, topic: str, timeout_s: float = 15) -> list[Any]:
    """Every message in topic up to its current end offsets."""
    consumer = make_consumer(config, group_id=f"test-{uuid.uuid4().hex[:8]}")
    try:
        ends = _end_offsets(consumer, topic)
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        got, done = [], set()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(ends) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.append(msg)
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        assert len(done) == len(ends), f"could not read {topic} to its end"
        return got
    finally:
        consumer.close()


def wait_for(
    what: str, check: Callable[[], Any], timeout_s: float = 60, every_s: float = 0.5
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)


def events(serde: AvroSerde, config: Config, topic: str) -> list[dict[str, Any]]:
    return [serde.decode(msg.value()) for msg in read_all(config, topic)]


def dead_letters(config: Config, topic: str) -> list[tuple[dict[str, str], Any]]:
    """(headers, JSON payload) of every message in a dead-letter topic."""
    found = []
    for msg in read_all(config, topic):
        headers = {k: v.decode() for k, v in msg.headers() or []}
        found.append((headers, json.loads(msg.value())))
    return found


def assert_duplicates_identical(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """At-least-once: an event may arrive twice, but only as the same change under the same
    event_id. Returns the events by id."""
    by_id: dict[str, dict[str, Any]] = {}
    for event in found:
        same = {k: v for k, v in event.items() if k != "ts_ms"}  # ts_ms: when the bus read it
        earlier = by_id.setdefault(event["event_id"], same)
        assert earlier == same, f"two different events share event_id {event['event_id']}"
    return by_id


def drop_offsets(config: Config, source: str) -> None:
    with psycopg.connect(config.postgres_url("opdbus"), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('connect.offsets')").fetchone()[0]:
            conn.execute("DELETE FROM connect.offsets WHERE source = %s", (source,))


def saved_offset(config: Config, source: str, name: str) -> Any:
    with psycopg.connect(config.postgres_url("opdbus"), autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass('connect.offsets')").fetchone()[0]:
            return None
        row = conn.execute(
            "SELECT value FROM connect.offsets WHERE source = %s AND name = %s", (source, name)
        ).fetchone()
    return None if row is None else row[0]
