"""The simulated OPD systems' tables: simulator/sql/<system>.sql, applied idempotently."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg

from opdbus.config import Config, ConfigError

SQL_DIR = Path(__file__).with_name("sql")
# Each simulated system and the source in config/opdbus.yaml that names its database.
SYSTEMS = ("siak", "perizinan", "keuangan")
TABLES: Mapping[str, tuple[str, ...]] = {
    "siak": ("penduduk",),
    "perizinan": ("permohonan", "riwayat_status"),
    "keuangan": ("anggaran", "realisasi"),
}


def sql_file(system: str) -> Path:
    return SQL_DIR / f"{system}.sql"


def create_tables(conn: psycopg.Connection[Any], system: str) -> None:
    """Create (or bring up to date) the tables of `system` in the connected database."""
    sql = sql_file(system).read_text(encoding="utf-8")
    with conn.transaction():
        conn.execute(sql.encode())  # bytes: several statements, no parameters


def database_of(config: Config, system: str) -> str:
    """The database a system lives in: sources.<system>.database in the bus config."""
    source = config.section("sources").get(system)
    if not isinstance(source, dict) or not source.get("database"):
        raise ConfigError(f"sources.{system}.database is not configured")
    return str(source["database"])


def connect(config: Config, system: str, **kwargs: Any) -> psycopg.Connection[Any]:
    database = database_of(config, system)
    try:
        return psycopg.connect(config.postgres_url(database), **kwargs)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise ConfigError(f"cannot connect to database {database!r}: {first_line}") from exc
