"""The analyst role on the real PostgreSQL: it reads the monev views and the unified tables
(pseudonyms), nothing of the sink's internals, and no raw NIK anywhere it can reach."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo

from opdbus.config import Config
from opdbus.sinks import roles, views
from opdbus.stack.manager import Stack

from .test_monev_fixture import MonevDatabase, throwaway_database

UNIFIED_TABLES = ("perizinan", "keuangan", "perencanaan", "kinerja", "penduduk")
NIK_NAMES = ("nik", "nik_pemohon")
HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def db(stack: Stack, config: Config) -> Iterator[MonevDatabase]:
    with throwaway_database(config, "test_monev_analyst") as filled:
        yield filled


def analyst_conninfo(config: Config, database: str) -> str:
    """The analyst's connection, with the password the migrate step set (roles.py)."""
    server = urlsplit(config.postgres_url(database))
    return make_conninfo(
        host=server.hostname,
        port=server.port,
        dbname=database,
        user=config.section("sink")["analyst_role"],
        password=roles.analyst_password(config),
    )


def as_analyst(config: Config, database: str) -> psycopg.Connection:
    return psycopg.connect(analyst_conninfo(config, database), autocommit=True)


def test_analyst_reads_the_monev_views_and_the_unified_tables(db, config: Config):
    with as_analyst(config, db.name) as conn:
        user = conn.execute("SELECT current_user").fetchone()
        assert user == (config.section("sink")["analyst_role"],)
        for view in views.VIEWS:
            (count,) = conn.execute(
                sql.SQL("SELECT count(*) FROM monev.{}").format(sql.Identifier(view))
            ).fetchone()
            assert count > 0, view
        for table in UNIFIED_TABLES:
            (count,) = conn.execute(
                sql.SQL("SELECT count(*) FROM unified.{}").format(sql.Identifier(table))
            ).fetchone()
            assert count > 0, table


@pytest.mark.parametrize("table", ["sink.offsets", "sink.schema_migrations"])
def test_analyst_cannot_read_the_sinks_own_tables(db, config: Config, table: str):
    with as_analyst(config, db.name) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(f"SELECT * FROM {table}".encode())


@pytest.mark.parametrize("database", ["siak", "perizinan", "keuangan", "apicurio"])
def test_analyst_cannot_connect_to_the_opd_databases(db, config: Config, database: str):
    # db: the migrate step that closes them has run.
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        as_analyst(config, database).close()


def reachable_databases(config: Config) -> list[str]:
    with psycopg.connect(config.postgres_url("postgres")) as admin:
        rows = admin.execute("SELECT datname FROM pg_database WHERE datallowconn").fetchall()
    return [name for (name,) in rows]


def nik_columns(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    # information_schema.columns lists only the columns the current user has a privilege on.
    return conn.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE column_name = ANY(%s) AND table_schema NOT IN ('pg_catalog', 'information_schema')",
        (list(NIK_NAMES),),
    ).fetchall()


def test_no_column_the_analyst_can_read_in_any_database_is_a_nik(db, config: Config):
    reached = []
    for database in reachable_databases(config):
        try:
            conn = as_analyst(config, database)
        except psycopg.OperationalError as exc:
            # Closed to it (the OPD databases), or another test's database dropped meanwhile.
            assert "permission denied" in str(exc) or "does not exist" in str(exc), exc
            continue
        with conn:
            assert nik_columns(conn) == [], database
            reached.append(database)
    assert db.name in reached
    assert not {"siak", "perizinan", "keuangan"} & set(reached)


def readable_text_columns(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    return conn.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE data_type = 'text' AND table_schema IN ('unified', 'monev')"
    ).fetchall()


def test_pseudonyms_the_analyst_reads_are_64_hex(db, config: Config):
    with as_analyst(config, db.name) as conn:
        values = [
            value
            for (value,) in conn.execute(
                "SELECT nik_pseudonim FROM unified.perizinan "
                "UNION ALL SELECT nik_pseudonim FROM unified.penduduk"
            )
        ]
    assert len(values) == 14 + 3
    assert [v for v in values if not HEX64.fullmatch(v)] == []


# CDC snapshot positions are `<slot point>:r:<key>` (connectors/cdc/positions.py) and the key of
# siak.penduduk is the NIK; the processor replaces it with the pseudonym in the lineage
# (processors/outputs.py lineage), so no unified text the analyst reads holds a NIK.
def test_no_text_the_analyst_can_read_holds_a_nik(db, config: Config):
    # A NIK is 16 digits; look for one standing alone or inside a position such as
    # "00000000/16B3C8A0:r:6171015203900001" (not inside a hex pseudonym, where 16 digits in a
    # row happen by chance).
    with as_analyst(config, db.name) as conn:
        columns = readable_text_columns(conn)
        assert ("unified", "penduduk", "source_position") in columns
        found = []
        for schema, table, column in columns:
            query = sql.SQL(
                "SELECT count(*) FROM {}.{} WHERE {} ~ '(^|[^0-9a-f])[0-9]{{16}}($|[^0-9a-f])'"
            ).format(sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column))
            (count,) = conn.execute(query).fetchone()
            if count:
                found.append((f"{schema}.{table}.{column}", count))
    assert found == []
