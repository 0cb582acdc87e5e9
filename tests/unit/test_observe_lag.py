"""The lag collector's export step: readings become series, vanished ones are removed, and an
unreachable target is a metric and one log line, not an exception."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from opdbus import config as config_module
from opdbus.observe.collect import Snapshot
from opdbus.observe.figures import PartitionLag
from opdbus.observe.lag import Exporter, Reachability
from opdbus.observe.settings import load_settings
from opdbus.observe.slots import SlotReading


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


@pytest.fixture
def exporter():
    return Exporter(load_settings(config_module.load(environ={})))


def snapshot(**fields) -> Snapshot:
    return Snapshot(taken_at=0.0, targets=["kafka", "postgres:siak"], **fields)


def test_a_reading_becomes_one_series_per_group_topic_and_partition(exporter):
    exporter.export(snapshot(consumer_lag=[PartitionLag("opdbus-unit-a", "t.lag", 2, 10, 16)]))
    lag = value("opdbus_consumer_lag_messages", group="opdbus-unit-a", topic="t.lag", partition="2")
    assert lag == 6


def test_a_group_that_disappears_loses_its_series_instead_of_freezing(exporter):
    exporter.export(snapshot(consumer_lag=[PartitionLag("opdbus-unit-b", "t.gone", 0, 1, 5)]))
    exporter.export(snapshot(consumer_lag=[]))
    assert (
        value("opdbus_consumer_lag_messages", group="opdbus-unit-b", topic="t.gone", partition="0")
        is None
    )


def test_slot_freshness_and_dead_letters_are_exported_with_bounded_labels(exporter):
    exporter.export(
        snapshot(
            slots={
                "siak": SlotReading("siak", "opdbus_siak", True, 8192, "reserved"),
                "perizinan": SlotReading("perizinan", "opdbus_perizinan", False, None),
            },
            freshness={"siak": 12.5, "keuangan": None},
            dead_letters={"dlq.unit": 4},
        )
    )
    assert value("opdbus_replication_slot_lag_bytes", source="siak", slot="opdbus_siak") == 8192
    assert (
        value("opdbus_replication_slot_lag_bytes", source="perizinan", slot="opdbus_perizinan")
        is None
    )  # no slot: no value, rather than a made-up 0
    assert value("opdbus_source_freshness_seconds", source="siak") == 12.5
    assert value("opdbus_source_freshness_seconds", source="keuangan") is None
    assert value("opdbus_dlq_messages", topic="dlq.unit") == 4


def test_expected_intervals_from_config_are_exported_for_the_alert_rule(exporter):
    assert value("opdbus_source_expected_interval_seconds", source="siak") == 259200
    assert value("opdbus_source_expected_interval_seconds", source="perencanaan") is None


def test_an_unreachable_target_is_up_0_and_its_series_are_dropped(exporter):
    exporter.export(snapshot(freshness={"siak": 1.0}))
    assert value("opdbus_lag_collector_up", target="kafka") == 1
    exporter.export(snapshot(errors={"kafka": "Broker transport failure"}))
    assert value("opdbus_lag_collector_up", target="kafka") == 0
    assert value("opdbus_lag_collector_up", target="postgres:siak") == 1
    assert value("opdbus_source_freshness_seconds", source="siak") is None


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    reachability = Reachability()
    down = snapshot(errors={"kafka": "Broker transport failure"})
    with caplog.at_level(logging.INFO, logger="opdbus.observe.lag"):
        for snap in (down, down, down, snapshot(), snapshot()):
            reachability.note(snap)
    assert [r.getMessage() for r in caplog.records] == [
        "cannot reach kafka: Broker transport failure",
        "kafka reachable again",
    ]
