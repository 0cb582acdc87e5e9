"""The processors' agents, in data-flow order. Each is small and runs with concurrency=1.

    opd.disdukcapil.penduduk --penduduk--> table penduduk[NIK], integrated.penduduk,
                                           and releases events waiting for that NIK
    opd.dpmptsp.permohonan --rekey--> <app>-perizinan-by-nik (keyed by the applicant's NIK,
                                      co-partitioned with the population topic)
    <app>-perizinan-by-nik --perizinan--> integrated.perizinan (enriched), or waits in table
                                          menunggu[NIK] until the citizen is known or too long
    finance, planning, e-SAKIP topics --lainnya--> integrated.keuangan/perencanaan/kinerja

A RocksDB table only sees the keys of the event's own partition, so every lookup by NIK happens
in an agent whose input is keyed by NIK with the population topic's partition count and the
murmur2 partitioner (faust's producer and librdkafka's murmur2_random agree).
"""

from __future__ import annotations

import base64
import logging
import os
import time
from typing import Any

import faust
from confluent_kafka.schema_registry import SchemaRegistryClient
from faust.types import EventT

from opdbus import schemas
from opdbus.config import Config
from opdbus.envelope import ts_millis
from opdbus.metrics import PROCESSED, PROCESSING_SECONDS, WAITING
from opdbus.processors import dead_letters, outputs, protect, validate
from opdbus.processors.app import rocksdb_options
from opdbus.processors.enrich import citizen_state, is_newer
from opdbus.schema_cli import subject
from opdbus.serde import AvroSerde, Encoder

log = logging.getLogger("opdbus.process")
RELEASE_HEADER = "opdbus.release"  # a timer tick: release what waited too long for this NIK
RAW = {"key_serializer": "raw", "value_serializer": "raw"}


def _crash_on_failure(fut: Any) -> None:
    """A send that failed after the producer's own retries must not be followed by an offset
    commit (faust flushes, then commits, and would not notice: issue #316). Exiting at once,
    before the commit, makes the restart read the event again: at-least-once, nothing lost."""
    exc = fut.exception() if fut.done() and not fut.cancelled() else None
    if exc is not None:
        log.critical("send failed, exiting before the offset commit: %s", exc)
        os._exit(75)


async def send(
    app: faust.App, topic: str, key: bytes | None, value: bytes | None, headers=None
) -> None:
    """Hand the message to the producer now. Not faust's Topic.send: its per-message machinery
    cost ~250 µs here, and publishing at commit time would add the commit interval to latency.
    Faust flushes this producer before it commits offsets, so at-least-once holds."""
    fut = await app.producer.send(topic, key, value, None, None, headers)
    fut.add_done_callback(_crash_on_failure)


class Pipeline:
    """Everything the agents share: decoding, encoders, protection, routing, sends."""

    def __init__(self, app: faust.App, config: Config) -> None:
        conf = config.section("processors")
        self.config = config
        self.app = app
        self.serde = AvroSerde(SchemaRegistryClient(config.registry_client_conf()))
        self.protect = protect.load(config)
        self.pks = {opd: frozenset(fields) for opd, fields in conf["pks"].items()}
        # A route set to null (e.g. in an OPDBUS_CONFIG overlay) is switched off.
        self.routes: dict[str, dict[str, Any]] = {t: r for t, r in conf["routes"].items() if r}
        self.unmatched_after_ms = int(float(conf["unmatched_after_s"]) * 1000)
        self._encoders: dict[str, Encoder] = {}
        self.dlq = config.section("dead_letters")["processors"]

    def entity(self, topic: str) -> str:
        return self.config.topics[topic]["schema"]

    def encoder(self, topic: str) -> Encoder:
        if topic not in self._encoders:
            self._encoders[topic] = self.serde.encoder(
                subject(topic), schemas.current(self.entity(topic))
            )
        return self._encoders[topic]

    async def emit(
        self, topic: str, key: str, raw: dict[str, Any], record: dict, nik: str | None = None
    ) -> None:
        protected = outputs.envelope(raw, raw["op"], record, self.protect, (nik,) if nik else ())
        value = self.encoder(topic).encode(protected)
        await send(self.app, topic, key.encode(), value)
        PROCESSING_SECONDS.labels(topic).observe(
            max(0.0, time.time() - ts_millis(raw["source"]["ts_ms"]) / 1000)
        )

    async def dead_letter(self, event: EventT, error: Exception, stage: str) -> None:
        msg = event.message
        headers = dead_letters.headers(msg.topic, msg.partition, msg.offset, stage, error)
        await send(self.app, self.dlq, msg.key, msg.value, headers)
        dead_letters.count(stage, error)
        PROCESSED.labels(msg.topic, "dead_letter").inc()


def wire(app: faust.App, config: Config) -> Pipeline:
    """Declare the tables and agents on app; returns the shared pipeline (for tests)."""
    conf = config.section("processors")
    partitions = int(conf["partitions"])
    p = Pipeline(app, config)
    rocks = rocksdb_options(config)
    penduduk = app.Table("penduduk", partitions=partitions, options=rocks)
    menunggu = app.Table("menunggu", partitions=partitions, options=rocks)
    population = conf["population"]
    by_nik = app.topic(
        f"{conf['app_id']}-perizinan-by-nik", partitions=partitions, internal=True, **RAW
    )
    nik_routes = [t for t, r in p.routes.items() if r.get("consumer")]
    other_routes = [t for t in p.routes if t not in nik_routes]

    def known(nik: str) -> dict[str, Any] | None:
        state = penduduk.get(nik)
        return None if state is None or state.get("deleted") else state

    async def decoded(event: EventT) -> dict[str, Any] | None:
        """The event's envelope, or None after parking it (bad bytes, broken rule)."""
        try:
            raw = p.serde.decode(event.value)
        except Exception as exc:
            await p.dead_letter(event, exc, "decode")
            return None
        violations = validate.check(p.entity(event.message.topic), outputs.row_of(raw))
        if violations:
            await p.dead_letter(event, validate.ValidationError(violations), "validate")
            return None
        return raw

    permohonan_topic = nik_routes[0]
    perizinan_route = p.routes[permohonan_topic]
    allowed = p.pks.get(perizinan_route["consumer"], frozenset())

    async def emit_perizinan(raw: dict[str, Any], nik: str, waited_ms: int) -> None:
        record = outputs.perizinan(outputs.row_of(raw), p.protect, known(nik), allowed, waited_ms)
        await p.emit(perizinan_route["output"], str(record["id_permohonan"]), raw, record, nik)

    async def release(nik: str, matched: bool) -> None:
        entry = menunggu.get(nik)
        if entry is None:
            return
        now = int(time.time() * 1000)
        if not matched and now - entry[0]["at"] < p.unmatched_after_ms:
            return
        del menunggu[nik]
        for item in entry:
            raw = p.serde.decode(base64.b64decode(item["value"]))
            await emit_perizinan(raw, nik, now - item["at"])
            outcome = "released" if matched else "unmatched"
            PROCESSED.labels(permohonan_topic, outcome).inc()

    @app.agent(app.topic(population["input"], **RAW), name="penduduk", concurrency=1)
    async def on_penduduk(stream: faust.StreamT) -> None:
        async for event in stream.events():
            if event.value is None:  # the tombstone after a delete: nothing left to do
                continue
            raw = await decoded(event)
            if raw is None:
                continue
            row = outputs.row_of(raw)
            nik = row["nik"]
            state = citizen_state(row, raw["source"])
            if not is_newer(state["version"], penduduk.get(nik)):
                PROCESSED.labels(population["input"], "stale").inc()
                continue
            pseudonym = p.protect.pseudonym(nik)
            record = outputs.penduduk_pseudonim(row, p.protect, state)
            await p.emit(population["output"], pseudonym, raw, record, nik)
            if raw["op"] == "d":
                penduduk[nik] = {"deleted": True, "version": state["version"]}
                # The tombstone lets compaction forget the pseudonym.
                await send(app, population["output"], pseudonym.encode(), None)
            else:
                penduduk[nik] = state
                await release(nik, matched=True)
            PROCESSED.labels(population["input"], "applied").inc()

    @app.agent(app.topic(*nik_routes, **RAW), name="rekey", concurrency=1)
    async def rekey(stream: faust.StreamT) -> None:
        async for event in stream.events():
            raw = await decoded(event)
            if raw is None:
                continue
            nik = outputs.row_of(raw)["nik_pemohon"]
            await send(app, by_nik.get_topic_name(), nik.encode(), event.value)

    @app.agent(by_nik, name="perizinan", concurrency=1)
    async def on_perizinan(stream: faust.StreamT) -> None:
        async for event in stream.events():
            nik = event.key.decode()
            if RELEASE_HEADER in dict(event.headers or {}):
                await release(nik, matched=False)
                continue
            raw = p.serde.decode(event.value)  # checked by rekey already
            waiting = menunggu.get(nik)
            if known(nik) is not None or (raw["op"] == "d" and waiting is None):
                await emit_perizinan(raw, nik, 0)
                PROCESSED.labels(permohonan_topic, "enriched").inc()
            else:  # queue behind earlier events for the same NIK, in order
                item = {
                    "value": base64.b64encode(event.value).decode(),
                    "at": int(time.time() * 1000),
                }
                menunggu[nik] = [*(waiting or []), item]
                PROCESSED.labels(permohonan_topic, "waiting").inc()

    @app.agent(app.topic(*other_routes, **RAW), name="lainnya", concurrency=1)
    async def on_other(stream: faust.StreamT) -> None:
        async for event in stream.events():
            raw = await decoded(event)
            if raw is None:
                continue
            topic = event.message.topic
            entity = p.entity(topic)
            row = outputs.row_of(raw)
            record = outputs.keuangan(entity, row) if entity in ("anggaran", "realisasi") else row
            key = f"{record['jenis']}:{record['id']}" if "jenis" in record else str(record["id"])
            await p.emit(p.routes[topic]["output"], key, raw, record)
            PROCESSED.labels(topic, "passed").inc()

    @app.timer(float(conf["release_check_s"]))
    async def release_expired() -> None:
        """Tables change only inside an agent (faust needs the event's partition), so the timer
        sends a tick keyed by the NIK; the perizinan agent, in that partition, releases."""
        now = int(time.time() * 1000)
        waiting = 0
        for nik, entry in list(menunggu.items()):
            waiting += len(entry)
            if now - entry[0]["at"] >= p.unmatched_after_ms:
                await send(
                    app, by_nik.get_topic_name(), nik.encode(), b"", [(RELEASE_HEADER, b"1")]
                )
        WAITING.set(waiting)

    return p
