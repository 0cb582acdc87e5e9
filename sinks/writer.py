"""Applies a batch to one unified schema in one transaction: rows and offsets together.

Order inside the transaction: the shared advisory lock (so `opdbus replay` can pause every
writer while it swaps schemas), the offsets fence (offsets.claim), one COPY + merge per table,
the new offsets, COMMIT.
"""

from __future__ import annotations

import psycopg

from opdbus.config import Config
from opdbus.sinks import offsets
from opdbus.sinks.batch import Batch
from opdbus.sinks.merge import Applied, Merge
from opdbus.sinks.offsets import SINK_LOCK
from opdbus.sinks.tables import Table, describe


def connect(config: Config, application: str) -> psycopg.Connection:
    """Autocommit (transactions are explicit) and no server-side prepared statements: a plan
    cached by name would keep pointing at the old tables after a replay's schema swap."""
    return psycopg.connect(
        config.postgres_url(config.section("sink")["database"]),
        autocommit=True,
        prepare_threshold=None,
        application_name=application,
    )


class Writer:
    def __init__(
        self, config: Config, schema: str, group: str, entities: set[str], application: str
    ) -> None:
        self.config = config
        self.schema = schema
        self.application = application
        self.group = group
        self._conn: psycopg.Connection | None = None
        conn = self.connection()
        self.tables: dict[str, Table] = {e: describe(conn, schema, e) for e in sorted(entities)}
        self.merges = {t.name: Merge(schema, t) for t in self.tables.values()}
        for merge in self.merges.values():
            merge.prepare(conn)

    def connection(self) -> psycopg.Connection:
        """The session, reopened (with its staging tables) after the server dropped it."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = connect(self.config, self.application)
            for merge in getattr(self, "merges", {}).values():
                merge.prepare(self._conn)
        return self._conn

    def apply(self, batch: Batch) -> dict[str, Applied]:
        conn = self.connection()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (SINK_LOCK,))
            offsets.claim(conn, self.group, batch.starts)
            applied = {
                table: self.merges[table].apply(conn, rows.values())
                for table, rows in batch.rows.items()
                if rows
            }
            offsets.write(conn, self.group, batch.next_offsets)
        return applied

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
