"""Versioned SQL migrations of the sink's database, plus what they need around them.

`sinks/migrations/V<NNN>__<name>.sql` are applied in version order, each in its own
transaction, and recorded in `sink.schema_migrations` with a checksum; an applied file that
changed since is refused (write a new migration instead). Files may name two placeholders,
rendered as quoted identifiers: `${unified}` (the unified schema) and `${analyst}` (the
analyst role). A migration that names `${unified}` is *replayable*: `opdbus replay` applies it
again with `${unified}` set to the schema it rebuilds (see replayable()).

Around the files, `migrate()` creates the analyst role first (migrations grant to it), then
fills `monev.standar_layanan` from config, rebuilds the monev views through
`opdbus.sinks.views.recreate(conn, schema)` when that module provides it (the views are kept
out of the versioned files on purpose, see V002) and closes the OPD databases to PUBLIC.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from opdbus.config import Config
from opdbus.sinks import roles

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UNIFIED = "unified"
PLACEHOLDER_UNIFIED = "${unified}"

_FILE = re.compile(r"V([0-9]+)__([A-Za-z0-9_]+)\.sql")
_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
# Advisory lock key ("opdbus-migrate"): two sinks starting at once must not both migrate.
MIGRATE_LOCK = 0x6F7064627573_01

BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS sink;
CREATE TABLE IF NOT EXISTS sink.schema_migrations (
    version int PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""

log = logging.getLogger("opdbus.sink.migrate")


class MigrationError(RuntimeError):
    """A migration file that cannot be applied; the message names the file."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    text: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def replayable(self) -> bool:
        return PLACEHOLDER_UNIFIED in self.text

    def render(self, conn: psycopg.Connection | None, names: Mapping[str, str]) -> str:
        def identifier(match: re.Match[str]) -> str:
            if match[1] not in names:
                raise MigrationError(f"{self.path.name}: unknown placeholder {match[0]}")
            return sql.Identifier(names[match[1]]).as_string(conn)

        return _PLACEHOLDER.sub(identifier, self.text)


@dataclass
class Report:
    applied: list[str] = field(default_factory=list)
    already: int = 0


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("V*.sql")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named V<number>__<name>.sql")
        version = int(match[1])
        if version in found:
            raise MigrationError(f"{path.name}: version {version} also in {found[version].path}")
        found[version] = Migration(version, match[2], path, path.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


def applied_checksums(conn: psycopg.Connection) -> dict[int, str]:
    rows = conn.execute("SELECT version, checksum FROM sink.schema_migrations").fetchall()
    return dict(rows)


def apply_files(
    conn: psycopg.Connection, migrations: list[Migration], names: Mapping[str, str]
) -> Report:
    """Apply what is not applied yet; refuse a changed applied file before applying anything."""
    report = Report()
    done = applied_checksums(conn)
    for migration in migrations:
        recorded = done.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                f"{migration.path.name} changed after it was applied (checksum "
                f"{recorded[:12]} in sink.schema_migrations, {migration.checksum[:12]} on disk): "
                "write a new migration instead of editing an applied one"
            )
    for migration in migrations:
        if migration.version in done:
            report.already += 1
            continue
        with conn.transaction():
            conn.execute(migration.render(conn, names))
            conn.execute(
                "INSERT INTO sink.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        log.info("applied %s", migration.path.name)
        report.applied.append(migration.path.name)
    return report


def replayable(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The applied migrations that build the unified schema, in order (for a rebuild)."""
    done = applied_checksums(conn)
    return [m for m in discover(directory) if m.replayable and m.version in done]


def upsert_standar_layanan(conn: psycopg.Connection, standards: Mapping[str, int]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO monev.standar_layanan (jenis_izin, maks_hari) VALUES (%s, %s) "
            "ON CONFLICT (jenis_izin) DO UPDATE SET maks_hari = EXCLUDED.maks_hari",
            [(jenis, int(days)) for jenis, days in standards.items()],
        )


def views_recreate() -> Callable[[psycopg.Connection, str], None] | None:
    """The monev views' builder, `opdbus.sinks.views.recreate(conn, schema)`, if provided."""
    try:
        module = importlib.import_module("opdbus.sinks.views")
    except ModuleNotFoundError:
        return None
    return getattr(module, "recreate", None)


def migrate(config: Config, directory: Path = MIGRATIONS_DIR) -> Report:
    """Bring the sink's database (config sink.database) up to date; idempotent."""
    sink = config.section("sink")
    analyst = str(sink["analyst_role"])
    with psycopg.connect(config.postgres_url(sink["database"]), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        try:
            conn.execute(BOOTSTRAP)
            roles.ensure_analyst(conn, analyst, roles.analyst_password(config))
            report = apply_files(
                conn, discover(directory), {"unified": UNIFIED, "analyst": analyst}
            )
            upsert_standar_layanan(conn, sink.get("standar_layanan") or {})
            recreate = views_recreate()
            if recreate is not None:
                recreate(conn, UNIFIED)
            roles.close_opd_databases(conn, roles.opd_databases(config))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
    return report
