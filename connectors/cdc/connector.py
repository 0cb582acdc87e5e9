"""The CDC connector's lifecycle: check the tables, snapshot once, then stream until stopped.

Streaming is a loop of: peek a batch of whole transactions -> publish -> `publisher.commit()`
(Kafka acknowledged all of it) -> advance the slot to the end of the batch's last commit. The
slot is the only cursor, so a restart, clean or not, resumes from the last acknowledged batch.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg

from opdbus import schemas
from opdbus.config import Config, ConfigError
from opdbus.connectors.cdc import catalog, snapshot
from opdbus.connectors.cdc.emit import Emitter
from opdbus.connectors.cdc.restart_points import RestartPoints
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
        log.info("streaming from slot %s at %s", self.slot_name, slot.confirmed())
        last_moved = time.monotonic()
        upto = self.batch_size
        while not stop.is_set():
            try:
                rows = self._batch(stop, slot, emitter, upto)
            except DeliveryError as exc:
                # The slot did not move: the same changes are read again, with the same ids.
                log.warning(
                    "Kafka did not acknowledge a batch (%s); retrying in %.0f s", exc, RETRY_S
                )
                emitter.pending = False
                stop.wait(RETRY_S)
                continue
            now = time.monotonic()
            if rows:
                last_moved = now
            elif now - last_moved >= self.heartbeat_s:
                self._heartbeat(slot, emitter)
                last_moved = now
            self._report_lag(slot, now)
            if rows >= upto:
                # A backlog: every peek decodes again the WAL from the slot's restart point
                # (up to 15 s of it when the connector was down), so read more per peek.
                upto = min(upto * 2, self.batch_size * MAX_BATCH_GROWTH)
            else:
                # Caught up. Peeking in a tight loop at a low rate would keep a PostgreSQL
                # core busy decoding the same WAL again and again.
                upto = self.batch_size
                stop.wait(self.poll_s)
        log.info("stopped at slot position %s", slot.confirmed())

    def _batch(self, stop: threading.Event, slot: Slot, emitter: Emitter, upto: int) -> int:
        """One peek -> publish -> ack -> advance round; the number of messages read."""
        decoder = Decoder()
        rows = 0
        with slot.peek(upto) as messages:
            for data in messages:
                rows += 1
                change = decoder.feed(data)
                if change is not None:
                    emitter.change(change)
                if rows % STOP_CHECK_ROWS == 0 and stop.is_set():
                    break  # the unfinished transaction is read again after the restart
        if rows == 0:
            return 0
        self.publisher.commit()
        emitter.pending = False
        if decoder.committed is not None:
            slot.advance(decoder.committed)
        return rows

    def _heartbeat(self, slot: Slot, emitter: Emitter) -> None:
        """Move an idle slot to the current WAL position, so WAL written by other databases is
        not held for us. Safe because (1) nothing is waiting for an ack; (2) the target is a
        record boundary with everything below it flushed; (3) a peek up to the target returned
        nothing, i.e. no transaction of this database commits before it. Changes committed
        after the target are still ahead of the slot."""
        if emitter.pending:
            return
        target = slot.quiet_point()
        confirmed = slot.confirmed()
        if target is None or confirmed is None or not later(target, confirmed):
            return
        with slot.peek(1, upto_lsn=target) as messages:
            if next(messages, None) is not None:
                return  # work arrived: the next batch takes it
        slot.advance(target)
        log.debug("heartbeat: idle slot %s moved from %s to %s", self.slot_name, confirmed, target)

    def _report_lag(self, slot: Slot, now: float) -> None:
        if now - self._lag_at < LAG_EVERY_S:
            return
        self._lag_at = now
        lag = slot.lag_bytes()
        if lag is not None:
            SLOT_LAG.labels(self.name, self.slot_name).set(lag)
