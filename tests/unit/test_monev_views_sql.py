"""The monev view SQL and its rendering, without a database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opdbus.sinks import migrate, views


def rendered(path: Path, **names: str) -> str:
    return views.render(path, **names).as_string()


def test_the_views_file_defines_exactly_the_five_views_of_the_brief():
    text = views.VIEWS_FILE.read_text(encoding="utf-8")
    created = re.findall(r"CREATE VIEW monev\.(\w+)", text)
    assert sorted(created) == sorted(views.VIEWS)
    assert set(views.VIEWS) == {
        "layanan_perizinan",
        "serapan_anggaran",
        "capaian_kinerja",
        "cakupan_penduduk",
        "kesegaran_data",
    }


def test_every_view_and_its_columns_are_commented():
    text = views.VIEWS_FILE.read_text(encoding="utf-8")
    commented = set(re.findall(r"COMMENT ON VIEW monev\.(\w+)", text))
    assert commented == set(views.VIEWS)


def test_views_read_the_unified_tables_only_through_the_placeholder():
    # A literal `unified.` would pin a view to the live schema and break replay's rebuild.
    code = "\n".join(
        line.split("--")[0] for line in views.VIEWS_FILE.read_text(encoding="utf-8").splitlines()
    )
    assert re.findall(r"\bunified\.", code) == []
    assert len(re.findall(r"\$\{unified\}\.", code)) >= 5


def test_render_quotes_the_schema_it_is_given():
    sql = rendered(views.VIEWS_FILE, unified="unified_replay_2026")
    assert '"unified_replay_2026".perizinan' in sql
    assert "${" not in sql
    grants = rendered(views.GRANTS_FILE, unified='we"ird', analyst="analis data")
    assert 'GRANT USAGE ON SCHEMA "we""ird", monev TO "analis data"' in grants


def test_render_refuses_a_placeholder_it_has_no_value_for():
    with pytest.raises(KeyError, match=r"\$\{analyst\}"):
        views.render(views.GRANTS_FILE, unified="unified")


def test_v002_is_thin_and_not_replayed_into_a_rebuilt_schema():
    # migrate.py re-applies every file naming ${unified} to the schema replay rebuilds; V002
    # must not be one of them (the views are rebuilt by views.recreate() after the swap).
    (v002,) = [m for m in migrate.discover() if m.version == 2]
    assert v002.name == "monev"
    assert not v002.replayable
    assert "CREATE VIEW" not in v002.text


def test_grants_give_the_analyst_nothing_in_schema_sink():
    grants = views.GRANTS_FILE.read_text(encoding="utf-8")
    granted = [line for line in grants.splitlines() if line.startswith("GRANT")]
    assert granted and not any("sink" in line for line in granted)
