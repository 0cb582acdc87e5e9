"""The polling loop: read what the cursor does not cover, publish it, wait for the ack, and
only then save the cursor (docs/decisions/0005)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from opdbus.config import ConfigError
from opdbus.connectors.offsets import OffsetStore
from opdbus.connectors.publisher import DeliveryError, Publisher
from opdbus.connectors.records import RecordBuilder, RecordError
from opdbus.envelope import Source, make_event

from .cursor import Cursor
from .keyset import KeySet
from .metrics import HORIZON_XIDS, QUERY_SECONDS, SEEN_XIDS, SOURCE_LAG
from .query import XID, Poll, Table, check_table, key_of, read_poll
from .versions import kafka_key, position, ts_ms

log = logging.getLogger("opdbus.connect.polling")

SEEN_WARNING = 100_000  # remembered xids: a source transaction has been open a long time
WARN_EVERY_S = 300.0
RETRY_S = 2.0


@dataclass
class TableState:
    table: Table
    builder: RecordBuilder
    cursor: Cursor
    keys: KeySet
    polled_at_ms: int | None = None  # the last saved poll's snapshot time: see versions.ts_ms
    caught_up: float | None = None  # source time of the last poll that read everything pending
    warned_at: float = 0.0

    def lag(self) -> float:
        return float("nan") if self.caught_up is None else max(0.0, time.time() - self.caught_up)


class PollingConnector:
    def __init__(
        self,
        name: str,
        spec: dict[str, Any],
        publisher: Publisher,
        tables: list[tuple[Table, RecordBuilder]],
        connect_source: Callable[[], psycopg.Connection],
        open_offsets: Callable[[], OffsetStore],
    ) -> None:
        self.name = name
        self.opd = spec["opd"]
        self.system = spec["system"]
        self.database = spec["database"]
        self.interval_s = float(spec.get("interval_s", 1))
        self.batch_size = int(spec.get("batch_size", 5000))
        self.publisher = publisher
        self._connect_source = connect_source
        self._open_offsets = open_offsets
        self._source: psycopg.Connection | None = None
        self._offsets: OffsetStore | None = None
        self.tables = [TableState(t, b, Cursor(), KeySet()) for t, b in tables]
        for state in self.tables:
            SOURCE_LAG.labels(name, state.table.name).set_function(state.lag)
        self._load()

    # connections are reopened after a failure, so a restart of either database is survived
    def _source_conn(self) -> psycopg.Connection:
        if self._source is None or self._source.closed:
            self._source = self._connect_source()
        return self._source

    def _offset_store(self) -> OffsetStore:
        if self._offsets is None or self._offsets.conn.closed:
            self._offsets = self._open_offsets()
        return self._offsets

    def _load(self) -> None:
        try:
            conn = self._source_conn()
        except psycopg.OperationalError as exc:
            raise ConfigError(f"cannot connect to source database {self.database}: {exc}") from exc
        store = self._offset_store()
        for state in self.tables:
            check_table(conn, state.table)
            saved = store.get(f"table:{state.table.name}") or {}
            state.cursor = Cursor.from_json(saved.get("cursor"))
            state.keys = KeySet.from_json(saved.get("keys"))
            state.polled_at_ms = saved.get("polled_at_ms")
            log.info(
                "%s.%s -> %s from xid %d (%d xids remembered)",
                self.database,
                state.table.name,
                state.table.topic,
                state.cursor.low,
                len(state.cursor.seen),
            )

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    more = False
                    for state in self.tables:
                        if stop.is_set():
                            break
                        more |= self.poll_table(state)
                except DeliveryError as exc:
                    log.warning("Kafka did not acknowledge a batch, reading it again: %s", exc)
                    stop.wait(RETRY_S)
                    continue
                except psycopg.OperationalError as exc:
                    log.warning("database unavailable, retrying in %.0fs: %s", RETRY_S, exc)
                    self._close()
                    stop.wait(RETRY_S)
                    continue
                if not more:
                    stop.wait(self.interval_s)
        finally:
            self._close()

    def poll_table(self, state: TableState) -> bool:
        """One poll of one table; True if it stopped at the batch limit (more is pending)."""
        table = state.table
        started = time.perf_counter()
        poll = read_poll(self._source_conn(), table, state.cursor, self.batch_size)
        QUERY_SECONDS.labels(self.name, table.name).observe(time.perf_counter() - started)
        xids, published_keys = self._publish(state, poll)
        self.publisher.commit()  # raises unless Kafka acknowledged every event: cursor stays
        last_key = key_of(poll.rows[-1], table.key) if poll.rows else None
        cursor = state.cursor.advance(poll.snapshot, xids, last_key, poll.exhausted)
        keys = state.keys.copy()
        for key in published_keys:
            keys.add(key)
        if poll.rows or cursor != state.cursor:  # an idle poll changes nothing worth a write
            # The first millisecond after the snapshot: later than any version it showed.
            polled_at_ms = int(poll.at.timestamp() * 1000) + 1
            self._offset_store().put(
                f"table:{table.name}",
                {"cursor": cursor.to_json(), "keys": keys.to_json(), "polled_at_ms": polled_at_ms},
            )
            state.cursor, state.keys, state.polled_at_ms = cursor, keys, polled_at_ms
        if poll.exhausted:
            state.caught_up = poll.at.timestamp()
        HORIZON_XIDS.labels(self.name, table.name).set(poll.snapshot.xmax - cursor.low)
        SEEN_XIDS.labels(self.name, table.name).set(len(cursor.seen))
        if len(cursor.seen) > SEEN_WARNING and time.monotonic() - state.warned_at > WARN_EVERY_S:
            state.warned_at = time.monotonic()
            log.warning(
                "%s: %d xids remembered since xid %d: a source transaction has been open for "
                "long (it also holds back VACUUM)",
                table.name,
                len(cursor.seen),
                cursor.low,
            )
        return not poll.exhausted

    def _publish(self, state: TableState, poll: Poll) -> tuple[list[int], list[Any]]:
        table = state.table
        xids: list[int] = []
        published_keys: list[Any] = []
        for row in poll.rows:
            xid = row.pop(XID)
            xids.append(xid)
            key = key_of(row, table.key)
            version = row.get(table.watermark) if table.watermark else None
            at = position(key, version, xid)
            message_key = kafka_key(key)
            try:
                record = state.builder.build(row)
            except RecordError as exc:
                context = {"database": self.database, "table": table.name, "position": at}
                self.publisher.dead_letter(message_key, row, exc, context)
                continue
            key_value = key[0] if len(key) == 1 else message_key
            source = Source(
                opd=self.opd,
                system=self.system,
                database=self.database,
                table=table.name,
                position=at,
                ts_ms=ts_ms(version, state.polled_at_ms, poll.at),
                tx_id=str(xid),
            )
            op = "u" if key_value in state.keys else "c"
            self.publisher.publish(table.topic, message_key, make_event(op, source, after=record))
            published_keys.append(key_value)
        return xids, published_keys

    def _close(self) -> None:
        for conn in (self._source, self._offsets.conn if self._offsets else None):
            if conn is not None and not conn.closed:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
        self._source = None
        self._offsets = None
