"""Statements of one simulated database, sent in one transaction per tick.

Activities queue statements in the order they happen; `flush` sends them through libpq's
pipeline mode (no round trip per statement) inside one transaction, then hands RETURNING rows
to each statement's callback, so the manifest only counts what was committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

OnRows = Callable[[list[tuple[Any, ...]]], None]


class Writer:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        if not conn.autocommit:
            raise ValueError("the writer's connection must be in autocommit mode")
        self.conn = conn
        self.ops: list[tuple[bytes, Sequence[Any], OnRows | None]] = []
        self.on_commit: list[Callable[[], None]] = []
        self._ids: dict[tuple[str, str], list[int]] = {}

    def add(self, statement: bytes, params: Sequence[Any], on_rows: OnRows | None = None) -> None:
        self.ops.append((statement, params, on_rows))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the statements queued so far are committed."""
        self.on_commit.append(callback)

    def __len__(self) -> int:
        return len(self.ops)

    def flush(self) -> int:
        """Send every queued statement in one transaction; returns how many."""
        if not self.ops:
            return 0
        ops, self.ops = self.ops, []
        callbacks, self.on_commit = self.on_commit, []
        pending: list[tuple[psycopg.Cursor[Any], OnRows]] = []
        with self.conn.transaction(), self.conn.pipeline():
            shared = self.conn.cursor()  # statements whose results nobody reads
            for statement, params, on_rows in ops:
                cursor = shared if on_rows is None else self.conn.cursor()
                cursor.execute(statement, params)
                if on_rows is not None:
                    pending.append((cursor, on_rows))
        for cursor, on_rows in pending:
            on_rows(cursor.fetchall())
        for callback in callbacks:
            callback()
        return len(ops)

    def next_id(self, table: str, column: str, block: int = 500) -> int:
        """An id from the column's identity sequence, taken in blocks so activities know their
        keys before the insert (and nobody else's insert can collide with them)."""
        pool = self._ids.setdefault((table, column), [])
        if not pool:
            query = sql.SQL(
                "SELECT nextval(pg_get_serial_sequence({table}, {column})) "
                "FROM generate_series(1, {block})"
            ).format(table=table, column=column, block=block)
            pool.extend(sorted((row[0] for row in self.conn.execute(query)), reverse=True))
        return pool.pop()

    def read(self, statement: bytes, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read outside the pending transaction (queued statements are not visible yet)."""
        return self.conn.execute(statement, params).fetchall()
