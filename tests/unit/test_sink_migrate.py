"""Migration files: found in version order, placeholders rendered as quoted identifiers, and
the unified DDL replayable into another schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opdbus.sinks.migrate import MIGRATIONS_DIR, MigrationError, discover


def write(folder: Path, name: str, text: str = "SELECT 1;") -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_migrations_apply_in_numeric_version_order(tmp_path):
    write(tmp_path, "V10__later.sql")
    write(tmp_path, "V2__earlier.sql")
    write(tmp_path, "V001__first.sql")
    write(tmp_path, "README.md")
    assert [(m.version, m.name) for m in discover(tmp_path)] == [
        (1, "first"),
        (2, "earlier"),
        (10, "later"),
    ]


@pytest.mark.parametrize("name", ["V3_one_underscore.sql", "Vx__nonumber.sql"])
def test_a_misnamed_migration_is_refused(tmp_path, name):
    write(tmp_path, name)
    with pytest.raises(MigrationError, match=re.escape(name)):
        discover(tmp_path)


def test_two_files_with_one_version_are_refused(tmp_path):
    write(tmp_path, "V3__a.sql")
    write(tmp_path, "V003__b.sql")
    with pytest.raises(MigrationError, match="version 3"):
        discover(tmp_path)


def test_placeholders_become_quoted_identifiers(tmp_path):
    write(tmp_path, "V1__x.sql", "CREATE TABLE ${unified}.t (); GRANT SELECT TO ${analyst};")
    (migration,) = discover(tmp_path)
    rendered = migration.render(None, {"unified": "unified_replay_1", "analyst": 'an"alyst'})
    assert rendered == 'CREATE TABLE "unified_replay_1".t (); GRANT SELECT TO "an""alyst";'


def test_an_unknown_placeholder_is_refused(tmp_path):
    write(tmp_path, "V1__x.sql", "CREATE SCHEMA ${unifeid};")
    (migration,) = discover(tmp_path)
    with pytest.raises(MigrationError, match="unifeid"):
        migration.render(None, {"unified": "unified", "analyst": "analyst"})


def test_the_checksum_changes_with_the_text(tmp_path):
    write(tmp_path, "V1__x.sql", "SELECT 1;")
    before = discover(tmp_path)[0].checksum
    write(tmp_path, "V1__x.sql", "SELECT 2;")
    assert discover(tmp_path)[0].checksum != before


def test_only_migrations_naming_the_unified_placeholder_are_replayed(tmp_path):
    write(tmp_path, "V1__tables.sql", "CREATE TABLE ${unified}.t ();")
    write(tmp_path, "V2__views.sql", "GRANT USAGE ON SCHEMA monev TO ${analyst};")
    assert [m.replayable for m in discover(tmp_path)] == [True, False]


def test_the_shipped_unified_ddl_targets_any_schema_through_its_placeholder():
    v001 = next(m for m in discover(MIGRATIONS_DIR) if m.version == 1)
    assert v001.replayable
    sql = v001.render(None, {"unified": "unified_replay_20260101", "analyst": "analyst"})
    statements = re.sub(r"--[^\n]*", "", sql)
    assert not re.search(r"\bunified\.", statements), "a literal unified. escapes a replay"
    for table in ("perizinan", "keuangan", "perencanaan", "kinerja", "penduduk"):
        assert f'CREATE TABLE "unified_replay_20260101".{table} (' in statements
