"""The push endpoint wired to a fake Kafka: 503 with Retry-After when the ack fails, a retry
with the same id then gets the same event ids, and a stopping server refuses new requests."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from opdbus import schemas
from opdbus.connectors.http_push import credentials
from opdbus.connectors.http_push.acks import GroupCommitter
from opdbus.connectors.http_push.credentials import Authenticator
from opdbus.connectors.http_push.events import Origin
from opdbus.connectors.http_push.server import PushServer, Settings
from opdbus.connectors.publisher import DeliveryError

TOPIC = "opd.dinkes.kinerja"
ITEM = {
    "id": "dinkes/IKU-01/2026/T3",
    "kode_opd": "dinkes",
    "kode_indikator": "IKU-01",
    "tahun": 2026,
    "jenis_periode": "TRIWULAN",
    "periode": 3,
    "realisasi": 87.5,
    "satuan": "persen",
    "dilaporkan_pada": "2026-10-05T08:00:00+07:00",
}


class FlakyKafka:
    """Acknowledges nothing while `down`; remembers what each successful commit covered."""

    def __init__(self) -> None:
        self.down = False
        self.pending: list[str] = []
        self.acked: list[str] = []

    def encoder(self, topic: str) -> object:
        return object()

    def publish(self, topic: str, key: str, event: dict[str, Any]) -> None:
        self.pending.append(event["event_id"])

    def commit(self, timeout_s: float = 60) -> int:
        batch, self.pending = self.pending, []
        if self.down:
            raise DeliveryError(f"{len(batch)} of {len(batch)} events not acknowledged")
        self.acked += batch
        return len(batch)


def scenario(tmp_path, steps) -> None:
    token = credentials.add(tmp_path / "c.yaml", "dinkes")
    kafka = FlakyKafka()
    server = PushServer(
        Settings("esakip", "127.0.0.1", 0, 65536, "opd.{opd}.kinerja", 5),
        topics={TOPIC: {"schema": "kinerja"}},
        entity_record=schemas.entity_versions("kinerja")[-1],
        origin=Origin("esakip", "esakip", "kinerja", ["id"]),
        authenticator=Authenticator(tmp_path / "c.yaml"),
        committer=GroupCommitter(kafka, ack_timeout_s=5),
    )
    server.committer.start()

    async def run() -> None:
        async with TestClient(TestServer(server.app())) as client:
            headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "req-1"}
            await steps(client, headers, server, kafka)

    try:
        asyncio.run(run())
    finally:
        server.committer.close()


def test_failed_ack_is_503_with_retry_after_and_the_retry_gets_the_same_event_ids(tmp_path):
    async def steps(client, headers, server, kafka):
        kafka.down = True
        failed = await client.post("/v1/kinerja", json={"items": [ITEM]}, headers=headers)
        assert failed.status == 503
        assert failed.headers["Retry-After"].isdigit()
        assert (await failed.json())["errors"][0]["field"] == "items"
        assert kafka.acked == []

        kafka.down = False
        retried = await client.post("/v1/kinerja", json={"items": [ITEM]}, headers=headers)
        assert retried.status == 202
        assert (await retried.json())["event_ids"] == kafka.acked

    scenario(tmp_path, steps)


def test_a_stopping_server_refuses_new_requests_and_reports_not_ready(tmp_path):
    async def steps(client, headers, server, kafka):
        assert (await client.get("/healthz")).status == 200
        server.stopping = True
        refused = await client.post("/v1/kinerja", json={"items": [ITEM]}, headers=headers)
        assert refused.status == 503
        assert (await client.get("/healthz")).status == 503
        assert kafka.acked == [] and kafka.pending == []

    scenario(tmp_path, steps)


def test_chunked_body_over_the_limit_is_413_without_publishing(tmp_path):
    async def steps(client, headers, server, kafka):
        async def chunks():
            for _ in range(100):
                yield b" " * 1024

        reply = await client.post("/v1/kinerja", data=chunks(), headers=headers)
        assert reply.status == 413
        assert (await reply.json())["errors"][0]["rule"] == "must be at most 65536 bytes"
        assert kafka.pending == [] and kafka.acked == []

    scenario(tmp_path, steps)
