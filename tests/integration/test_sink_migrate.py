"""`opdbus sink --migrate-only` on the real PostgreSQL: idempotent, refuses an edited applied
file, fills the service standards, and creates an analyst who reads the unified tables only."""

from __future__ import annotations

import os
import shutil
import subprocess
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import errors

from opdbus.sinks import roles
from opdbus.sinks.migrate import MIGRATIONS_DIR, MigrationError, apply_files, discover

from . import test_sink_harness as harness
from .cli import OPDBUS

sink_db = harness.sink_db
sink_bus = harness.sink_bus


def migrate_only(bus) -> subprocess.CompletedProcess:
    return subprocess.run(
        [OPDBUS, "sink", "--migrate-only"],
        env={**os.environ, **bus.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrating_twice_applies_each_file_once(sink_bus, config):
    bus = sink_bus()
    first = migrate_only(bus)
    assert first.returncode == 0, first.stderr
    with bus.db() as conn:
        applied = conn.execute("SELECT version, applied_at FROM sink.schema_migrations").fetchall()
    second = migrate_only(bus)
    assert second.returncode == 0, second.stderr
    assert "0 applied" in second.stderr
    with bus.db() as conn:
        assert (
            conn.execute("SELECT version, applied_at FROM sink.schema_migrations").fetchall()
            == applied
        )
        standards = dict(conn.execute("SELECT jenis_izin, maks_hari FROM monev.standar_layanan"))
    assert [version for version, _ in applied] == [m.version for m in discover()]
    assert standards == config.section("sink")["standar_layanan"]


def test_an_applied_migration_that_was_edited_is_refused(sink_bus, tmp_path):
    bus = sink_bus()
    assert migrate_only(bus).returncode == 0
    for path in MIGRATIONS_DIR.glob("V*.sql"):
        shutil.copy(path, tmp_path / path.name)
    edited = tmp_path / "V001__unified.sql"
    edited.write_text(edited.read_text() + "\n-- an innocent-looking edit\n")
    (tmp_path / "V999__never.sql").write_text("CREATE TABLE public.never_applied ();")
    with bus.db() as conn:
        with pytest.raises(
            MigrationError, match=r"V001__unified\.sql changed after it was applied"
        ):
            apply_files(conn, discover(tmp_path), {"unified": "unified", "analyst": "analyst"})
        assert conn.execute("SELECT to_regclass('public.never_applied')").fetchone() == (None,)


def test_the_analyst_reads_unified_tables_but_not_sink_internals_nor_opd_databases(
    sink_bus, config
):
    bus = sink_bus()
    assert migrate_only(bus).returncode == 0
    role = config.section("sink")["analyst_role"]
    password = roles.analyst_password(config)
    pg = urlsplit(config.postgres_url(bus.database))

    def as_analyst(database: str) -> psycopg.Connection:
        return psycopg.connect(
            host=pg.hostname, port=pg.port, user=role, password=password, dbname=database
        )

    with as_analyst(bus.database) as conn:
        assert conn.execute("SELECT count(*) FROM unified.perizinan").fetchone() is not None
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM sink.offsets")
    for database in ("siak", "perizinan", "keuangan", "apicurio"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            as_analyst(database).close()
