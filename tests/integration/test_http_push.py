"""The e-SAKIP push connector on the real stack: `opdbus connect esakip` in a subprocess, its
own topic and credentials, plain HTTP clients, and Kafka read back to check what got out."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import TopicPartition

from opdbus import schemas
from opdbus.config import Config
from opdbus.kafka import make_consumer
from opdbus.serde import AvroSerde
from opdbus.stack.process import free_port

from .cli import OPDBUS, opdbus


def item(n: int | str, **changes: Any) -> dict[str, Any]:
    row = {
        "id": f"dinkes/IKU-{n}/2026/T3",
        "kode_opd": "dinkes",
        "kode_indikator": f"IKU-{n}",
        "tahun": 2026,
        "jenis_periode": "TRIWULAN",
        "periode": 3,
        "realisasi": 87.5,
        "satuan": "persen",
        "dilaporkan_pada": "2026-10-05T08:00:00.250+07:00",
    }
    row.update(changes)
    return row


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Esakip:
    """One connector process with its own port, topic and credentials."""

    env: dict[str, str]
    port: int
    metrics_port: int
    topic: str
    tokens: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [OPDBUS, "connect", "esakip"], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"connector exited:\n{self.log.read_text()}"
            try:
                if self.get("/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"connector not ready in 30s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def get(self, path: str, port: int | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            raw = response.read()
            body = json.loads(raw) if path == "/healthz" else {"text": raw.decode()}
            return Reply(response.status, body)
        finally:
            conn.close()

    def post(
        self,
        body: Any,
        token: str | None = "dinkes",
        rid: str | None = None,
        raw: bytes | None = None,
        timeout: float = 30,
    ) -> Reply:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        if rid:
            headers["X-Request-Id"] = rid
        data = raw if raw is not None else json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", "/v1/kinerja", body=data, headers=headers)
            response = conn.getresponse()
            return Reply(response.status, json.loads(response.read()), dict(response.getheaders()))
        finally:
            conn.close()


@pytest.fixture
def esakip(tmp_path, config: Config, registry, new_topic):
    topic = new_topic("test.esakip.dinkes")
    for version in schemas.subject_versions("kinerja"):
        AvroSerde(registry).encoder(f"{topic}-value", version, register=True)
    pattern = "test.esakip.{opd}." + topic.rsplit(".", 1)[1]  # bkad's topic is not declared
    port, metrics_port = free_port(), free_port()
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "topics": {topic: {"schema": "kinerja"}},
                "sources": {
                    "esakip": {
                        "port": port,
                        "topic": pattern,
                        "credentials_file": str(tmp_path / "secrets" / "esakip.yaml"),
                        "max_body_bytes": 65536,
                    }
                },
                "metrics": {"ports": {"connector-esakip": metrics_port}},
                # Events not yet flushed then wait long in the producer: a 202 sent before the
                # ack would be lost by a kill -9 almost surely, not by bad luck only.
                "producer": {"linger.ms": 1000},
            }
        )
    )
    env = {**os.environ, "OPDBUS_CONFIG": str(overlay)}
    tokens = {}
    for opd in ("dinkes", "bkad"):
        added = opdbus("credentials", "esakip", "add", opd, env=env)
        assert added.returncode == 0, added.stderr
        tokens[opd] = added.stdout.strip()
    server = Esakip(env, port, metrics_port, topic, tokens, tmp_path / "connector.log")
    server.start()
    yield server
    server.stop()
    registry.delete_subject(f"{topic}-value")
    registry.delete_subject(f"{topic}-value", permanent=True)


def read_all(config: Config, serde: AvroSerde, topic: str) -> list[dict[str, Any]]:
    """Every event now in topic: up to the high watermarks, which cover every acked write."""
    consumer = make_consumer(config, group_id=f"test-{uuid.uuid4().hex[:8]}")
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        events, left = [], {p: end for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + 30
        while left and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            event = serde.decode(msg.value())
            event["_key"] = msg.key().decode()
            events.append(event)
            if msg.offset() + 1 >= left.get(msg.partition(), 0):
                left.pop(msg.partition(), None)
        assert not left, f"could not read up to the watermarks of {topic}"
        return events
    finally:
        consumer.close()


def test_accepted_batch_is_in_kafka_with_the_envelope_when_the_202_arrives(esakip, config, serde):
    reply = esakip.post({"items": [item(1), item(2), item(3)]}, rid="batch-0001")

    assert reply.status == 202, reply.body
    assert reply.body["accepted"] == 3 and reply.body["request_id"] == "batch-0001"
    # Read at once, only up to the watermarks: the events were acknowledged before the 202.
    events = sorted(read_all(config, serde, esakip.topic), key=lambda e: e["source"]["position"])
    assert [e["event_id"] for e in events] == reply.body["event_ids"]
    first = events[0]
    assert first["_key"] == "dinkes/IKU-1/2026/T3"
    assert first["op"] == "c" and first["before"] is None
    assert first["after"]["kode_indikator"] == "IKU-1" and first["after"]["periode"] == 3
    assert first["source"] | {"ts_ms": 0} == {
        "opd": "dinkes",
        "system": "esakip",
        "database": "esakip",
        "table": "kinerja",
        "position": "batch-0001#0",
        "tx_id": "batch-0001",
        "ts_ms": 0,
        "snapshot": False,
    }
    # The source's own time: dilaporkan_pada, not when the bus received it.
    assert first["source"]["ts_ms"] == dt.datetime(2026, 10, 5, 1, 0, 0, 250000, tzinfo=dt.UTC)


def test_malformed_json_is_400_naming_the_body_and_the_rule(esakip):
    reply = esakip.post(None, raw=b'{"items": [{"id": "x",')
    assert reply.status == 400
    assert reply.body["errors"][0]["field"] == "body"
    assert reply.body["errors"][0]["rule"].startswith("must be valid JSON")

    reply = esakip.post({"item": [item(1)]})
    assert reply.status == 400
    assert {e["field"] for e in reply.body["errors"]} == {"item"}


def test_missing_unknown_or_revoked_token_is_401(esakip):
    for token in (None, "not-a-token"):
        reply = esakip.post({"items": [item(1)]}, token=token)
        assert reply.status == 401
        assert reply.body["errors"][0]["field"] == "Authorization"
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")

    assert esakip.post({"items": [item(1)]}).status == 202
    listed = opdbus("credentials", "esakip", "list", env=esakip.env)
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["bkad", "dinkes"]
    assert esakip.tokens["dinkes"] not in listed.stdout
    revoked = opdbus("credentials", "esakip", "revoke", "dinkes", env=esakip.env)
    assert revoked.returncode == 0, revoked.stderr
    reply = esakip.post({"items": [item(1)]})
    assert reply.status == 401, "a revoked token still works"
    assert reply.body["errors"][0]["rule"] == "token is not known or revoked"


def test_items_of_another_opd_or_an_opd_without_a_topic_are_403(esakip):
    reply = esakip.post({"items": [item(1), item(2, kode_opd="bkad"), item(3)]})
    assert reply.status == 403
    assert reply.body["errors"] == [
        {"item": 1, "field": "kode_opd", "rule": "must be the token's OPD 'dinkes'"}
    ]

    reply = esakip.post({"items": [item(1, kode_opd="bkad")]}, token="bkad")
    assert reply.status == 403
    assert reply.body["errors"][0]["field"] == "kode_opd"
    assert "has no declared topic" in reply.body["errors"][0]["rule"]


def test_body_over_max_body_bytes_is_413(esakip):
    big = {"items": [item(n, satuan="x" * 1000) for n in range(80)]}  # > 65536 bytes
    reply = esakip.post(big)
    assert reply.status == 413
    assert reply.body["errors"] == [
        {"item": None, "field": "body", "rule": "must be at most 65536 bytes"}
    ]


def test_422_names_field_and_rule_of_every_bad_item_and_no_rejected_batch_publishes_anything(
    esakip, config, serde
):
    reply = esakip.post(
        {"items": [item(1), item(2, realisasi="tinggi"), item(3), item(4, periode=9)]},
        rid="bad-batch",
    )
    assert reply.status == 422
    assert reply.body["errors"] == [
        {"item": 1, "field": "realisasi", "rule": "must be a number"},
        {"item": 3, "field": "periode", "rule": "must be 1-4 for TRIWULAN"},
    ]
    # Every other kind of refusal, each with valid items in it, publishes nothing either.
    assert esakip.post({"items": [item(5), item(6, kode_opd="bkad")]}).status == 403
    assert esakip.post({"items": [item(7)]}, token="wrong").status == 401
    assert esakip.post({"items": [item(8, satuan="x" * 70000)]}).status == 413
    assert esakip.post({"items": [item(9), 10]}).status == 400

    accepted = esakip.post({"items": [item(11), item(12)]}, rid="good-batch")
    assert accepted.status == 202
    events = read_all(config, serde, esakip.topic)  # up to the good batch, which came last
    assert sorted(e["event_id"] for e in events) == sorted(accepted.body["event_ids"])


def test_retry_with_the_same_request_id_gives_the_same_event_ids(esakip, config, serde):
    batch = {"items": [item(1), item(2)]}
    first = esakip.post(batch, rid="retry-me")
    retry = esakip.post(batch, rid="retry-me")
    other = esakip.post(batch, rid="another-one")
    assert (first.status, retry.status, other.status) == (202, 202, 202)
    assert retry.body["event_ids"] == first.body["event_ids"]
    assert not set(other.body["event_ids"]) & set(first.body["event_ids"])

    reused = esakip.post({"items": [item(1), item(2, realisasi=1.0)]}, rid="retry-me")
    assert reused.status == 422, "a reused id would give new data old event ids"
    assert reused.body["errors"][0]["field"] == "X-Request-Id"

    copies = Counter(e["event_id"] for e in read_all(config, serde, esakip.topic))
    assert copies == Counter({i: 2 for i in first.body["event_ids"]}) + Counter(
        other.body["event_ids"]
    )


def test_metrics_count_requests_by_status_code(esakip):
    esakip.post({"items": [item(1)]})
    esakip.post({"items": [item(1)]}, token=None)
    esakip.post({"items": [item(1)]}, token=None)
    text = esakip.get("/metrics", port=esakip.metrics_port).body["text"]
    assert 'opdbus_http_push_requests_total{source="esakip",status="202"} 1.0' in text
    assert 'opdbus_http_push_requests_total{source="esakip",status="401"} 2.0' in text
    assert 'opdbus_http_push_request_duration_seconds_count{source="esakip",status="202"}' in text
    assert f'opdbus_events_out_total{{stage="connector",topic="{esakip.topic}"}} 1.0' in text


class Stream:
    """Clients pushing steadily, each request retried with its own X-Request-Id until a 202
    (as a real client does when it got no answer or a 503)."""

    def __init__(self, esakip: Esakip, clients: int = 4, items: int = 5) -> None:
        self.esakip = esakip
        self.clients = clients
        self.items = items
        self.accepted: dict[str, list[str]] = {}
        self.refused = 0  # attempts while the connector was down
        self.dropped = 0  # attempts sent that got no answer: in flight when it died
        self.unavailable = 0  # 503s
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(c,)) for c in range(clients)]

    def _client(self, client: int) -> None:
        n = 0
        while not self.stop.is_set():
            rid = f"c{client}-r{n}"
            batch = {"items": [item(f"{client}-{n}-{i}") for i in range(self.items)]}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    reply = self.esakip.post(batch, rid=rid, timeout=40)
                except (OSError, http.client.HTTPException) as exc:
                    with self.lock:
                        if isinstance(exc, ConnectionRefusedError):
                            self.refused += 1
                        else:
                            self.dropped += 1
                    time.sleep(0.05)
                    continue
                if reply.status == 202:
                    with self.lock:
                        self.accepted[rid] = reply.body["event_ids"]
                    break
                assert reply.status == 503, reply.body
                with self.lock:
                    self.unavailable += 1
                time.sleep(0.05)
            n += 1

    def __enter__(self) -> Stream:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(120)

    def wait_for(self, requests: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.accepted) < requests:
            assert time.monotonic() < deadline, f"only {len(self.accepted)} requests accepted"
            time.sleep(0.02)


def assert_every_accepted_event_in_kafka_once_by_id(stream: Stream, events: list[dict]) -> None:
    expected = {i for ids in stream.accepted.values() for i in ids}
    assert len(expected) == len(stream.accepted) * stream.items
    by_id: dict[str, list[dict]] = {}
    for event in events:
        by_id.setdefault(event["event_id"], []).append(event)
    assert len(by_id) == len(expected), "count of distinct events differs from accepted items"
    assert set(by_id) == expected, "events missing from Kafka or events nobody was told about"
    for copies in by_id.values():  # duplicates only as the same event
        assert all(c["after"] == copies[0]["after"] for c in copies)
        assert all(c["source"] == copies[0]["source"] for c in copies)


def test_kill_9_during_a_stream_then_restart_loses_no_accepted_request(esakip, config, serde):
    with Stream(esakip) as stream:
        stream.wait_for(40)
        esakip.process.send_signal(signal.SIGKILL)
        esakip.process.wait(10)
        time.sleep(0.5)  # clients find the port closed and keep retrying
        esakip.start()
        stream.wait_for(len(stream.accepted) + 40)
    assert stream.dropped > 0, "the kill hit no request in flight: nothing was proven"

    events = read_all(config, serde, esakip.topic)
    assert_every_accepted_event_in_kafka_once_by_id(stream, events)
    assert len(events) >= len(stream.accepted) * stream.items


def test_sigterm_finishes_in_flight_requests_and_exits_0(esakip, config, serde):
    with Stream(esakip, clients=6) as stream:
        stream.wait_for(30)
        esakip.process.send_signal(signal.SIGTERM)
        code = esakip.process.wait(30)
        answered_before_exit = dict(stream.accepted)
        stream.stop.set()
        esakip.start()  # so the clients still waiting for a 202 get one
    assert code == 0, esakip.log.read_text()
    assert "stopped cleanly" in esakip.log.read_text()

    events = read_all(config, serde, esakip.topic)
    assert_every_accepted_event_in_kafka_once_by_id(stream, events)
    assert len(answered_before_exit) >= 30
