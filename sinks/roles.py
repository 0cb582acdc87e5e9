"""The read-only analyst role, and closing the OPD databases to it.

The analyst sees pseudonyms only (the unified tables and the monev views, granted by the
migrations); every database that holds a raw NIK, and the registry's storage, is closed to
PUBLIC so that a LOGIN role cannot even connect to it.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import errors, sql

from opdbus.config import Config
from opdbus.stack.layout import Layout

# The OPD systems' own databases and the registry's storage (DESIGN.md: separate databases).
CLOSED_DATABASES = ("siak", "perizinan", "keuangan", "apicurio")

log = logging.getLogger("opdbus.sink.roles")


def analyst_password(config: Config) -> str:
    """From OPDBUS_SINK__ANALYST_PASSWORD (sink.analyst_password), else a secret generated once
    into <state dir>/secrets/analyst."""
    configured = config.section("sink").get("analyst_password")
    if configured:
        return str(configured)
    return Layout(config.state_dir, config.cache_dir).secret("analyst")


def ensure_analyst(conn: psycopg.Connection, role: str, password: str) -> None:
    """Create the LOGIN role if missing, else set its password; roles are cluster-wide, so a
    sink migrating another database at the same moment may create it first."""
    name, secret = sql.Identifier(role), sql.Literal(password)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if exists is None:
        try:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(name, secret))
            log.info("created role %s", role)
            return
        except (errors.DuplicateObject, errors.UniqueViolation):
            pass
    conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(name, secret))


def opd_databases(config: Config) -> list[str]:
    """Databases to close: the fixed ones plus every configured source database, never the
    sink's own."""
    sources = config.data.get("sources") or {}
    named = {spec.get("database") for spec in sources.values() if isinstance(spec, dict)}
    wanted = set(CLOSED_DATABASES) | {name for name in named if name}
    return sorted(wanted - {config.section("sink")["database"]})


def close_opd_databases(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """REVOKE CONNECT ... FROM PUBLIC on those of names that exist on this server."""
    existing = [
        row[0]
        for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s) ORDER BY datname", (names,)
        )
    ]
    for name in existing:
        conn.execute(
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name))
        )
    return existing
