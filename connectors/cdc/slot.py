"""The logical replication slot, through PostgreSQL's SQL interface.

Reading never consumes: `pg_logical_slot_peek_changes` returns whole transactions from the
slot's confirmed position, and only `advance()` moves that position, which the connector calls
after Kafka acknowledged everything up to it. A crash before then re-reads the same changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from opdbus.config import ConfigError
from opdbus.connectors.cdc import lsn
from opdbus.connectors.cdc.wal2json import OPTIONS

PLUGIN = "wal2json"
FETCH_ROWS = 2000  # rows per round trip from the server-side cursor


class SlotLost(RuntimeError):
    """The server removed WAL the slot had not confirmed: the slot cannot be read any more."""


@dataclass(frozen=True)
class Created:
    """A new slot. `reader` is a REPEATABLE READ transaction that sees the database exactly as
    of `point` (the slot's first position) when the snapshot could be exported, else None."""

    point: str
    reader: psycopg.Connection | None


class Slot:
    def __init__(self, conn: psycopg.Connection, url: str, name: str, tables: list[str]) -> None:
        self.conn = conn  # autocommit
        self.url = url
        self.name = name
        options = [*OPTIONS, "add-tables", ",".join(tables)]
        self._options = sql.SQL(", ").join(sql.Literal(option) for option in options)

    def confirmed(self) -> str | None:
        """The slot's confirmed LSN, or None if the slot does not exist."""
        row = self.conn.execute(
            "SELECT plugin, database, confirmed_flush_lsn::text, wal_status "
            "FROM pg_replication_slots WHERE slot_name = %s",
            (self.name,),
        ).fetchone()
        if row is None:
            return None
        plugin, database, confirmed, wal_status = row
        if wal_status == "lost":
            raise SlotLost(
                f"replication slot {self.name!r} lost WAL it still needed "
                f"(max_slot_wal_keep_size): its changes since {confirmed} are gone"
            )
        if plugin != PLUGIN or database != self.conn.info.dbname:
            raise ConfigError(
                f"replication slot {self.name!r} exists for plugin {plugin!r} in database "
                f"{database!r}, not {PLUGIN!r} in {self.conn.info.dbname!r}: choose another slot"
            )
        return confirmed

    def create(self) -> Created:
        """Create the slot, exporting its snapshot over a replication connection so the initial
        snapshot and the stream meet exactly; without replication rights, create it with SQL
        (the snapshot is then taken after the slot: duplicates, never a gap)."""
        try:
            repl = psycopg.connect(self.url, replication="database", autocommit=True)
        except psycopg.OperationalError:
            self.conn.execute(
                "SELECT pg_create_logical_replication_slot(%s, %s)", (self.name, PLUGIN)
            )
            confirmed = self.confirmed()
            assert confirmed is not None
            return Created(confirmed, None)
        try:
            # Replication commands need the simple query protocol: a client-side cursor.
            cursor = psycopg.ClientCursor(repl)
            cursor.execute(
                sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL {} EXPORT_SNAPSHOT").format(
                    sql.Identifier(self.name), sql.Identifier(PLUGIN)
                )
            )
            row = cursor.fetchone()
            assert row is not None
            _, point, snapshot_name, _ = row
            reader = psycopg.connect(self.url)
            reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            reader.read_only = True
            # Must be the transaction's first statement, while the exporting session is idle.
            reader.execute(
                sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_name))
            )
        finally:
            repl.close()  # the imported snapshot outlives the exporting session
        return Created(point, reader)

    @contextmanager
    def peek(self, upto_changes: int, upto_lsn: str | None = None) -> Iterator[Iterator[str]]:
        """The wal2json messages of whole transactions from the confirmed position, streamed
        from a server-side cursor so a huge transaction never sits in our memory."""
        query = sql.SQL("SELECT data FROM pg_logical_slot_peek_changes({}, {}, {}, {})").format(
            sql.Literal(self.name), sql.Literal(upto_lsn), sql.Literal(upto_changes), self._options
        )
        with self.conn.transaction(), self.conn.cursor(name=f"peek_{self.name}") as cursor:
            cursor.execute(query)
            yield _messages(cursor)

    def advance(self, to: str) -> None:
        self.conn.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (self.name, to))

    def flushed(self) -> str:
        """The WAL flush position: a peek up to it reads every record that starts before it
        (one that straddles it is read whole), so none of ours is left behind it."""
        row = self.conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
        assert row is not None
        return row[0]

    def lag_bytes(self) -> int | None:
        row = self.conn.execute(
            "SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint "
            "FROM pg_replication_slots WHERE slot_name = %s",
            (self.name,),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def drop(self) -> None:
        self.conn.execute("SELECT pg_drop_replication_slot(%s)", (self.name,))


def _messages(cursor: psycopg.ServerCursor) -> Iterator[str]:
    while rows := cursor.fetchmany(FETCH_ROWS):
        for (data,) in rows:
            yield data


def later(a: str, b: str) -> bool:
    return lsn.parse(a) > lsn.parse(b)
