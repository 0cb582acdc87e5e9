"""Reading one poll from the source: a snapshot and the row versions the cursor has not covered.

One REPEATABLE READ, READ ONLY transaction per poll, so `pg_current_snapshot()` describes
exactly the rows the query sees. Only SELECT rights are needed (row `xmin` and the snapshot are
readable by any user), and the transaction ends before anything is sent to Kafka, so the bus
never holds a snapshot open on the source while it waits for acknowledgements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql
from psycopg.rows import dict_row

from opdbus.config import ConfigError

from .cursor import EPOCH, Cursor, Snapshot

XID = "_opdbus_xid"  # the row's writer xid (64-bit), added to each row by the poll query


@dataclass(frozen=True)
class Table:
    name: str  # as configured: "realisasi" or "schema.realisasi"
    topic: str
    key: tuple[str, ...]
    watermark: str | None  # the version stamp column (updated_at), if the table has one

    @property
    def identifier(self) -> sql.Composable:
        return sql.Identifier(*self.name.split("."))


@dataclass(frozen=True)
class Poll:
    snapshot: Snapshot
    at: dt.datetime  # the source's clock just after the snapshot was taken
    rows: list[dict[str, Any]]
    exhausted: bool  # fewer rows than the limit: nothing more is pending at this snapshot


def connect(url: str, application_name: str) -> psycopg.Connection:
    conn = psycopg.connect(
        url,
        autocommit=True,
        application_name=application_name,
        options="-c TimeZone=UTC",
        connect_timeout=10,
    )
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def check_table(conn: psycopg.Connection, table: Table) -> None:
    """Fail at start, naming the table or column, rather than on the first poll."""
    kind = conn.execute(
        "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", (table.name,)
    ).fetchone()
    if kind is None:
        raise ConfigError(f"table {table.name!r} does not exist or is not visible to this user")
    if kind[0] not in ("r", "p"):
        raise ConfigError(
            f"{table.name!r} is not a table (relkind {kind[0]!r}): polling reads row xmin, "
            "which views do not have; grant SELECT on the table itself"
        )
    columns = [*table.key, *([table.watermark] if table.watermark else [])]
    try:
        conn.execute(
            sql.SQL("SELECT {} FROM {} LIMIT 0").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), table.identifier
            )
        )
    except psycopg.errors.UndefinedColumn as exc:
        raise ConfigError(f"table {table.name!r}: {exc.diag.message_primary}") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ConfigError(f"table {table.name!r} needs SELECT rights for the bus: {exc}") from exc


def _keys(table: Table) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, table.key))


def age_prefilter(cursor: Cursor, snapshot: Snapshot) -> bool:
    """Whether the cheap `age(xmin)` test may run before the exact one: age() is a 32-bit
    difference from the server's next xid, exact only within 2^31 xids of it (with room for
    xids assigned between the snapshot and the query)."""
    return cursor.low > 0 and snapshot.xmax - cursor.low < (1 << 31) - (1 << 24)


def pending_query(table: Table, cursor: Cursor, prefilter: bool = True) -> sql.Composed:
    """Visible versions the cursor does not cover, in (writer xid, key) order.

    The 32-bit xmin becomes the 64-bit xid in the 2^32 window below the snapshot's xmax
    (parameters xmax and xmax32). No index covers xmin, so this is a sequential scan; the
    prefilter `age(xmin) <= age(low)` (a C function, no text casts) keeps it about as cheap
    as count(*), and the exact test then runs on the few rows that pass.
    """
    skip_partial = [
        sql.SQL(" AND NOT ({xid} = {x} AND ({keys}) <= ({values}))").format(
            xid=sql.Identifier(XID),
            x=sql.Placeholder(f"p{i}"),
            keys=_keys(table),
            values=sql.SQL(", ").join(sql.Placeholder(f"p{i}k{j}") for j in range(len(table.key))),
        )
        for i in range(len(cursor.partial))
    ]
    recent = sql.SQL(" WHERE age(t.xmin) <= (SELECT age({low32}::text::xid))").format(
        low32=sql.Placeholder("low32")
    )
    return sql.SQL(
        "SELECT * FROM ("
        " SELECT t.*, CASE WHEN t.xmin::text::bigint < 3 THEN 0"
        " ELSE {xmax} - (({xmax32} - t.xmin::text::bigint + {epoch}) %% {epoch}) END AS {xid}"
        " FROM {table} t{recent}) v"
        " WHERE {xid} >= {low} AND {xid} <> ALL({seen}::bigint[]){partial}"
        " ORDER BY {xid}, {keys} LIMIT {limit}"
    ).format(
        xmax=sql.Placeholder("xmax"),
        xmax32=sql.Placeholder("xmax32"),
        epoch=sql.Literal(EPOCH),
        xid=sql.Identifier(XID),
        table=table.identifier,
        recent=recent if prefilter else sql.SQL(""),
        low=sql.Placeholder("low"),
        seen=sql.Placeholder("seen"),
        partial=sql.Composed(skip_partial),
        keys=_keys(table),
        limit=sql.Placeholder("limit"),
    )


def pending_params(cursor: Cursor, snapshot: Snapshot, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        "xmax": snapshot.xmax,
        "xmax32": snapshot.xmax % EPOCH,
        "low": cursor.low,
        "low32": cursor.low % EPOCH,
        "seen": sorted(cursor.seen),
        "limit": limit,
    }
    for i, (xid, key) in enumerate(sorted(cursor.partial.items())):
        params[f"p{i}"] = xid
        params.update({f"p{i}k{j}": value for j, value in enumerate(key)})
    return params


def read_poll(conn: psycopg.Connection, table: Table, cursor: Cursor, limit: int) -> Poll:
    with conn.transaction():
        # clock_timestamp(), not now(): after the snapshot, so every version it shows
        # started (updated_at) before this time.
        text, at = conn.execute("SELECT pg_current_snapshot()::text, clock_timestamp()").fetchone()
        snapshot = Snapshot.parse(text)
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(pending_query(table, cursor), pending_params(cursor, snapshot, limit))
            rows = cur.fetchall()
    return Poll(snapshot, at, rows, exhausted=len(rows) < limit)


def key_of(row: dict[str, Any], key: Sequence[str]) -> list[Any]:
    return [row[column] for column in key]
