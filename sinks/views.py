"""The monev views: (re)built over a unified schema, then granted to the analyst role.

The SQL lives in sinks/sql/ with `${unified}` and `${analyst}` placeholders (the migrations'
syntax), filled here as quoted identifiers. `opdbus.sinks.migrate` calls recreate() after the
versioned files and `opdbus replay` after swapping a rebuilt schema in: a view is bound to the
tables it was built on, not to the schema's name, so it must be rebuilt after a swap. See
docs/decisions/0010-monev-and-report.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from psycopg import sql

from opdbus import config as config_module

SQL_DIR = Path(__file__).resolve().parent / "sql"
VIEWS_FILE = SQL_DIR / "monev_views.sql"
GRANTS_FILE = SQL_DIR / "analyst_grants.sql"
SCHEMA = "monev"
VIEWS = (
    "layanan_perizinan",
    "serapan_anggaran",
    "capaian_kinerja",
    "cakupan_penduduk",
    "kesegaran_data",
)
_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")


def render(path: Path, **identifiers: str) -> sql.Composed:
    """The file's SQL with each `${name}` replaced by the quoted identifier given for it."""
    text = path.read_text(encoding="utf-8")
    parts: list[sql.Composable] = []
    end = 0
    for match in _PLACEHOLDER.finditer(text):
        if match[1] not in identifiers:
            raise KeyError(f"{path.name}: no value for placeholder {match[0]}")
        parts += [sql.SQL(text[end : match.start()]), sql.Identifier(identifiers[match[1]])]
        end = match.end()
    parts.append(sql.SQL(text[end:]))
    return sql.Composed(parts)


def analyst_role() -> str:
    return str(config_module.load().section("sink")["analyst_role"])


def recreate(conn: psycopg.Connection, schema: str = "unified", analyst: str | None = None) -> None:
    """Drops and creates the monev views over `schema`, then grants the analyst (config
    sink.analyst_role unless named) SELECT on them and on `schema`'s tables.

    Runs in one transaction (the caller's, or its own on an autocommit connection), so readers
    see the old views or the new ones, never none. monev.standar_layanan and the analyst role
    must exist: migration V001 and the migrate step make them."""
    role = analyst or analyst_role()
    with conn.transaction():
        conn.execute(render(VIEWS_FILE, unified=schema))
        conn.execute(render(GRANTS_FILE, unified=schema, analyst=role))
