"""What the source database's catalog says about a captured table: columns, types, identity."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from opdbus.config import ConfigError

log = logging.getLogger("opdbus.connect.cdc")

# Types psycopg returns as values RecordBuilder understands; others are read as text, as wal2json
# writes them, so a snapshot row and a streamed row of the same table carry the same values.
_NATIVE_PREFIXES = (
    "smallint", "integer", "bigint", "real", "double precision", "numeric", "boolean",
    "date", "timestamp", "text", "character varying", "character",
)  # fmt: skip


def split(table: str) -> tuple[str, str]:
    """ "penduduk" or "public.penduduk" -> (schema, table)."""
    schema, _, name = table.rpartition(".")
    return schema or "public", name


def columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    """Column name -> type as format_type() spells it (which is also wal2json's spelling)."""
    schema, name = split(table)
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (schema, name),
    ).fetchall()
    return dict(rows)


def select_list(table_columns: dict[str, str]) -> sql.Composed:
    fields = []
    for column, pg_type in table_columns.items():
        native = pg_type.removesuffix("[]").startswith(_NATIVE_PREFIXES)
        ident = sql.Identifier(column)
        fields.append(ident if native else sql.SQL("{}::text AS {}").format(ident, ident))
    return sql.SQL(", ").join(fields)


def check_logical_decoding(conn: psycopg.Connection) -> None:
    level = conn.execute("SHOW wal_level").fetchone()
    if level is None or level[0] != "logical":
        raise ConfigError(
            f"CDC needs wal_level = logical on the source server (it is {level and level[0]})"
        )


def ensure_full_identity(conn: psycopg.Connection, table: str, database: str) -> None:
    """Updates and deletes carry the whole old row only with REPLICA IDENTITY FULL; the
    envelope's `before` needs it. Set it if we may, else say what the DBA must run."""
    schema, name = split(table)
    row = conn.execute(
        "SELECT c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
        (schema, name),
    ).fetchone()
    if row is None:
        raise ConfigError(f"table {schema}.{name} does not exist in database {database!r}")
    if row[0] == "f":
        return
    statement = sql.SQL("ALTER TABLE {}.{} REPLICA IDENTITY FULL").format(
        sql.Identifier(schema), sql.Identifier(name)
    )
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ConfigError(
            f"{database}.{schema}.{name} needs REPLICA IDENTITY FULL for before-images; "
            f"ask its owner to run: {statement.as_string(conn)}"
        ) from exc
    log.warning(
        "%s.%s.%s had REPLICA IDENTITY %s: set it to FULL so updates and deletes carry the old row",
        database,
        schema,
        name,
        {"d": "DEFAULT", "n": "NOTHING", "i": "INDEX"}.get(row[0], row[0]),
    )


def check_key(table_columns: dict[str, str], key: list[str], table: str) -> None:
    missing = [column for column in key if column not in table_columns]
    if not key or missing:
        raise ConfigError(
            f"key of table {table}: columns {missing or key} are not columns of the table"
        )
