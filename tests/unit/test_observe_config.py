"""The observe settings and what observation reads from the sources' config."""

from __future__ import annotations

import pytest

from opdbus import config as config_module
from opdbus.config import ConfigError
from opdbus.observe.settings import load_settings
from opdbus.observe.sources import cdc_slots, source_topics


@pytest.fixture(scope="module")
def shipped():
    return config_module.load(environ={})


def test_shipped_settings_watch_the_bus_groups_but_not_throwaway_ones(shipped):
    settings = load_settings(shipped)
    assert settings.watches_group("opdbus-processor")
    assert not settings.watches_group("opdbus-demo-1f2e3d")
    assert not settings.watches_group("test-3541901b")


def test_a_zero_expected_interval_means_the_source_is_never_silent(shipped):
    settings = load_settings(shipped)
    assert "perencanaan" not in settings.expected_interval_s
    assert settings.expected_interval_s["siak"] == 259200


def test_a_bad_group_pattern_is_a_config_error_naming_the_key():
    config = config_module.load(environ={"OPDBUS_OBSERVE__INCLUDE_GROUPS": "(unclosed"})
    with pytest.raises(ConfigError, match=r"observe\.include_groups"):
        load_settings(config)


def test_the_lag_collector_has_a_metrics_port(shipped):
    assert shipped.section("metrics")["ports"]["lag-collector"] == 9430


def test_each_source_maps_to_its_topics_including_templated_ones(shipped):
    topics = source_topics(shipped)
    assert topics["perizinan"] == ["opd.dpmptsp.permohonan", "opd.dpmptsp.riwayat_status"]
    assert topics["perencanaan"] == ["opd.bappeda.target"]
    # opd.{opd}.kinerja: every declared kinerja topic, nothing else
    raw_kinerja = {t for t in shipped.topics if t.startswith("opd.") and t.endswith(".kinerja")}
    assert raw_kinerja and set(topics["esakip"]) == raw_kinerja


def test_only_cdc_sources_have_slots_to_watch(shipped):
    slots = {s.source: s for s in cdc_slots(shipped)}
    assert set(slots) == {
        n for n, s in shipped.section("sources").items() if s["connector"] == "cdc"
    }
    assert slots["siak"].slot == "opdbus_siak" and slots["siak"].database == "siak"
