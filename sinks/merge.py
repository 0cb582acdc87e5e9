"""COPY a batch's rows into a TEMP staging table, then one guarded upsert into the table.

The guard: a stored row changes only if the incoming (source_ts, source_position) is >= its
own (equal is the same event again: harmless). Deletes are the same upsert with dihapus =
true, so they obey the same guard and keep their position against older events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from opdbus.sinks.rows import Row
from opdbus.sinks.tables import INGESTED_AT, Table


@dataclass(frozen=True)
class Applied:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.deleted


class Merge:
    """The staging table and the merge statement of one unified table."""

    def __init__(self, schema: str, table: Table) -> None:
        self.table = table
        target = sql.Identifier(schema, table.name)
        stage = sql.Identifier(f"stage_{table.name}")
        columns = sql.SQL(", ").join(map(sql.Identifier, table.columns))
        staged = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(kind))
            for column, kind in zip(table.columns, table.stage_types, strict=True)
        )
        # The table's values from the staged wire values (sinks/wire.py).
        values = sql.SQL(", ").join(
            sql.SQL(conversion.expression.format(sql.Identifier(column).as_string()))
            for column, conversion in zip(table.columns, table.conversions, strict=True)
        )
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(column))
            for column in (*table.columns, INGESTED_AT)
            if column not in table.key
        )
        # Emptied by every commit (and gone with a rollback's rows).
        self.create_stage = sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {stage} ({staged}) ON COMMIT DELETE ROWS"
        ).format(stage=stage, staged=staged)
        # Binary: psycopg's C dumpers write it several times faster than text.
        self.copy = sql.SQL("COPY {stage} ({columns}) FROM STDIN (FORMAT BINARY)").format(
            stage=stage, columns=columns
        )
        self.merge = sql.SQL(
            """
            WITH applied AS (
                INSERT INTO {target} AS t ({columns}, {ingested_at})
                SELECT {values}, now() FROM {stage}
                ON CONFLICT ({key}) DO UPDATE SET {updates}
                WHERE (EXCLUDED.source_ts, EXCLUDED.source_position)
                   >= (t.source_ts, t.source_position)
                RETURNING (xmax = 0) AS inserted, dihapus
            )
            SELECT count(*) FILTER (WHERE inserted AND NOT dihapus),
                   count(*) FILTER (WHERE NOT inserted AND NOT dihapus),
                   count(*) FILTER (WHERE dihapus)
              FROM applied
            """
        ).format(
            target=target,
            columns=columns,
            ingested_at=sql.Identifier(INGESTED_AT),
            values=values,
            stage=stage,
            key=sql.SQL(", ").join(map(sql.Identifier, table.key)),
            updates=updates,
        )

    def prepare(self, conn: psycopg.Connection) -> None:
        """Once per connection: temp tables live as long as the session."""
        conn.execute(self.create_stage)

    def apply(self, conn: psycopg.Connection, rows: Iterable[Row]) -> Applied:
        """Inside the batch's transaction; rows hold one row per key."""
        with conn.cursor() as cur:
            with cur.copy(self.copy) as copy:
                copy.set_types(list(self.table.stage_oids))
                for row in rows:
                    copy.write_row(row)
            counts = cur.execute(self.merge).fetchone()
        assert counts is not None
        return Applied(*counts)
