"""The CDC connector's lifecycle: check the tables, snapshot once, then stream until stopped.

Streaming is a loop of: peek a batch of whole transactions -> publish -> `publisher.commit()`
(Kafka acknowledged all of it) -> advance the slot to the end of the batch's last commit, or
past other databases' WAL up to where the peek stopped (`move_to`). The slot is the only
cursor, so a restart, clean or not, resumes from the last acknowledged batch.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from opdbus import schemas
from opdbus.config import Config, ConfigError
from opdbus.connectors.cdc import catalog, lsn, snapshot
from opdbus.connectors.cdc.emit import Emitter
from opdbus.connectors.cdc.restart_points import LAG_BYTES, RestartPoints
from opdbus.connectors.cdc.routes import Route
from opdbus.connectors.cdc.slot import Slot, SlotLost, later
from opdbus.connectors.cdc.wal2json import Decoder
from opdbus.connectors.offsets import OffsetStore
from opdbus.connectors.publisher import DeliveryError, Publisher
from opdbus.metrics import SLOT_LAG

log = logging.getLogger("opdbus.connect.cdc")

# Every session speaks ISO dates in UTC, so wal2json's text and our parsing agree on any server.
SESSION_OPTIONS = "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=postgres"
STOP_CHECK_ROWS = 1024  # how often a long batch looks at the stop flag
LAG_EVERY_S = 1.0
RETRY_S = 5.0
MAX_BATCH_GROWTH = 8  # a backlog is read up to 8 x batch_size changes per peek


@dataclass(frozen=True)
class Read:
    """What one acknowledged batch read from the slot."""

    rows: int  # messages the peek returned
    committed: str | None  # end LSN of the last complete transaction among them
    whole: bool  # every transaction committed before the peek's target was among them


def move_to(read: Read, target: str, confirmed: str, heartbeat_due: bool) -> str | None:
    """Where the slot moves after an acknowledged batch, or None to stay.

    A batch moves it to its last commit. A whole read may move it on to the target: what lies
    between is other databases' WAL (or ours, already acknowledged), and every later peek
    and advance would decode it again from the restart point, which itself moves only once
    the confirmed position passes a running-transactions record. Done at a heartbeat, when
    the batch read changes anyway, or once that WAL reaches LAG_BYTES. Safe as a heartbeat
    is (docs/decisions/0004-cdc.md): the target is flushed WAL, so the peek read every
    record that starts before it, and a transaction still open there commits after it.
    """
    to = read.committed
    if read.whole and (
        read.rows or heartbeat_due or lsn.parse(target) - lsn.parse(confirmed) >= LAG_BYTES
    ):
        to = target if to is None or later(target, to) else to
    return to if to is not None and later(to, confirmed) else None


class CdcConnector:
    def __init__(self, config: Config, name: str, spec: dict[str, Any], publisher: Publisher):
        self.config = config
        self.name = name
        self.spec = spec
        self.publisher = publisher
        try:
            self.opd: str = spec["opd"]
            self.database: str = spec["database"]
            self.slot_name: str = spec["slot"]
            self.tables: dict[str, dict[str, Any]] = spec["tables"]
            self.heartbeat_s = float(spec.get("heartbeat_s", 10))
            self.poll_s = float(spec.get("poll_interval_ms", 50)) / 1000
            self.batch_size = int(spec.get("batch_size", 5000))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"sources.{name}: CDC needs opd, database, slot and tables (missing {exc})"
            ) from exc
        self._lag_at = 0.0

    # -- lifecycle ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        url = self.config.postgres_url(self.database)
        conn = self._connect(url, autocommit=True)
        offsets = OffsetStore(self.config, self.name)
        try:
            catalog.check_logical_decoding(conn)
            routes = [self._route(conn, offsets, table, t) for table, t in self.tables.items()]
            emitter = Emitter(
                self.publisher,
                self.opd,
                self.spec.get("system", self.name),
                self.database,
                {(r.schema, r.name): r for r in routes},
                lambda route: catalog.columns(conn, route.qualified),
            )
            slot = Slot(conn, self._options_url(url), self.slot_name, [r.qualified for r in routes])
            points = RestartPoints(slot.url, self.slot_name)
            points.start()
            try:
                if self._snapshot(stop, slot, routes, emitter, offsets, url):
                    self._stream(stop, slot, emitter)
            finally:
                points.close()
        finally:
            offsets.close()
            conn.close()

    def _connect(self, url: str, autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            options=SESSION_OPTIONS,
            application_name=f"opdbus-cdc-{self.name}",
        )

    def _options_url(self, url: str) -> str:
        """The URL plus our session options, for connections the slot opens itself."""
        return psycopg.conninfo.make_conninfo(
            url, options=SESSION_OPTIONS, application_name=f"opdbus-cdc-{self.name}"
        )

    def _route(
        self, conn: psycopg.Connection, offsets: OffsetStore, table: str, spec: dict[str, Any]
    ) -> Route:
        schema, name = catalog.split(table)
        qualified = f"{schema}.{name}"
        catalog.ensure_full_identity(conn, qualified, self.database)
        columns = catalog.columns(conn, qualified)
        key = list(spec.get("key") or [])
        catalog.check_key(columns, key, qualified)
        topic = spec["topic"]
        entity = self.publisher.entity(topic)
        self.publisher.encoder(topic)  # fails now, with a clear line, if the schema is missing
        record = schemas.entity_versions(entity)[-1]
        baseline = offsets.get(f"columns/{qualified}")
        if baseline is None:  # first sight of the table: what it has now is the contract
            baseline = list(columns)
            offsets.put(f"columns/{qualified}", baseline)
        fields = {f["name"] for f in record["fields"]}
        return Route(
            schema=schema,
            name=name,
            topic=topic,
            key=key,
            compacted=bool(self.config.topics.get(topic, {}).get("compacted")),
            entity=entity,
            record=record,
            baseline_extras=frozenset(baseline) - fields,
        )

    # -- snapshot -------------------------------------------------------------------------

    def _snapshot(
        self,
        stop: threading.Event,
        slot: Slot,
        routes: list[Route],
        emitter: Emitter,
        offsets: OffsetStore,
        url: str,
    ) -> bool:
        """Make sure every table has been snapshotted from this slot; False if stopped."""
        try:
            confirmed = slot.confirmed()
        except SlotLost as exc:
            # Only a new snapshot can bring the topics back in line; rows deleted while the
            # slot was lost cannot be told apart and stay downstream (see 0004-cdc.md).
            log.error("%s; dropping it and taking a new snapshot of every table", exc)
            snapshot.reset(offsets, self.slot_name, routes)
            slot.drop()
            confirmed = None
        reader = None
        if confirmed is None:
            # Markers first: a crash right after creating the slot must find them cleared.
            snapshot.reset(offsets, self.slot_name, routes)
            created = slot.create()
            confirmed, reader, pending = created.point, created.reader, routes
            log.info(
                "created slot %s at %s (%s)",
                self.slot_name,
                confirmed,
                "exported snapshot" if reader else "SQL: snapshot taken after the slot",
            )
        else:
            pending = [r for r in routes if not snapshot.is_done(offsets, self.slot_name, r)]
        if not pending:
            return True
        log.info(
            "snapshot of %s from slot point %s", ", ".join(r.qualified for r in pending), confirmed
        )
        return snapshot.run(
            stop,
            pending,
            reader,
            self._options_url(url),
            confirmed,
            emitter,
            self.publisher,
            offsets,
            self.slot_name,
            self.batch_size,
        )

    # -- streaming ------------------------------------------------------------------------

    def _stream(self, stop: threading.Event, slot: Slot, emitter: Emitter) -> None:
        confirmed = slot.confirmed()
        assert confirmed is not None  # the snapshot step made sure the slot exists
        log.info("streaming from slot %s at %s", self.slot_name, confirmed)
        moved_at = time.monotonic()
        upto = self.batch_size
        while not stop.is_set():
            target = slot.flushed()
            try:
                read = self._batch(stop, slot, emitter, upto, target)
            except DeliveryError as exc:
                # The slot did not move: the same changes are read again, with the same ids.
                log.warning(
                    "Kafka did not acknowledge a batch (%s); retrying in %.0f s", exc, RETRY_S
                )
                stop.wait(RETRY_S)
                continue
            now = time.monotonic()
            to = move_to(read, target, confirmed, now - moved_at >= self.heartbeat_s)
            if to is not None:
                slot.advance(to)
                confirmed, moved_at = to, now
            self._report_lag(slot, now)
            if read.rows >= upto:
                # A backlog: every peek decodes again the WAL from the slot's restart point
                # (up to 15 s of it when the connector was down), so read more per peek.
                upto = min(upto * 2, self.batch_size * MAX_BATCH_GROWTH)
            else:
                # Caught up. Peeking in a tight loop at a low rate would keep a PostgreSQL
                # core busy decoding the same WAL again and again.
                upto = self.batch_size
                stop.wait(self.poll_s)
        log.info("stopped at slot position %s", slot.confirmed())

    def _batch(
        self, stop: threading.Event, slot: Slot, emitter: Emitter, upto: int, target: str
    ) -> Read:
        """One peek (at most `upto` messages, none past the WAL position `target`) -> publish
        -> Kafka acknowledges all of it. Moving the slot is the caller's step."""
        decoder = Decoder()
        rows = 0
        stopped = False
        with slot.peek(upto, upto_lsn=target) as messages:
            for data in messages:
                rows += 1
                change = decoder.feed(data)
                if change is not None:
                    emitter.change(change)
                if rows % STOP_CHECK_ROWS == 0 and stop.is_set():
                    stopped = True  # the unfinished transaction is read again after the restart
                    break
        if rows:
            self.publisher.commit()
        return Read(rows, decoder.committed, whole=not stopped and rows < upto)

    def _report_lag(self, slot: Slot, now: float) -> None:
        if now - self._lag_at < LAG_EVERY_S:
            return
        self._lag_at = now
        lag = slot.lag_bytes()
        if lag is not None:
            SLOT_LAG.labels(self.name, self.slot_name).set(lag)
