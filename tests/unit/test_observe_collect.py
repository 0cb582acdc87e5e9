"""collect.read_snapshot wired to a stand-in broker (the real one is in the integration
tests): which offsets it asks for, what it makes of them, and that failures become errors."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import pytest
from confluent_kafka import KafkaError, KafkaException

from opdbus import config as config_module
from opdbus.config import Config
from opdbus.observe.collect import read_snapshot
from opdbus.observe.settings import load_settings

TP = tuple[str, int]


@pytest.fixture(scope="module")
def config() -> Config:
    """The shipped config without CDC sources, so no PostgreSQL is contacted."""
    shipped = config_module.load(environ={})
    data = copy.deepcopy(shipped.data)
    data["sources"] = {n: s for n, s in data["sources"].items() if s["connector"] != "cdc"}
    return Config(data, {})


class FakeBroker:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.asked_ends: list[TP] = []

    def topics(self) -> dict[str, int]:
        if self.fail:
            raise self.fail
        return {"opd.bkad.anggaran": 2, "opd.bkad.realisasi": 1, "dlq.connectors": 2, "x": 1}

    def group_ids(self) -> list[str]:
        return ["opdbus-processor", "test-throwaway"]

    def committed(self, groups: Iterable[str]) -> dict[str, dict[TP, int]]:
        assert list(groups) == ["opdbus-processor"], "unwatched groups must not be asked"
        return {"opdbus-processor": {("opd.bkad.anggaran", 1): 30, ("deleted.topic", 0): 1}}

    def end_offsets(self, partitions: Iterable[TP]) -> dict[TP, int]:
        self.asked_ends = list(partitions)
        ends = {("opd.bkad.anggaran", 0): 5, ("opd.bkad.anggaran", 1): 42}
        return {tp: ends.get(tp, 2) for tp in self.asked_ends}

    def newest_timestamps(self, partitions: Iterable[TP]) -> dict[TP, float]:
        parts = list(partitions)
        assert ("x", 0) not in parts, "only the sources' topics"
        return {("opd.bkad.realisasi", 0): 1.0e9} if ("opd.bkad.realisasi", 0) in parts else {}


def test_snapshot_holds_lag_dead_letters_and_freshness_from_the_broker(config):
    broker = FakeBroker()
    snap = read_snapshot(config, load_settings(config), broker)
    assert snap.errors == {}
    assert [(r.group, r.topic, r.partition, r.lag) for r in snap.consumer_lag] == [
        ("opdbus-processor", "opd.bkad.anggaran", 1, 12)
    ]
    assert ("deleted.topic", 0) not in broker.asked_ends
    assert snap.dead_letters == {"dlq.connectors": 4}
    assert snap.freshness["keuangan"] is not None and snap.freshness["keuangan"] > 0
    assert snap.freshness["perencanaan"] is None


@pytest.mark.parametrize(
    "failure",
    [KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure")), TimeoutError()],
)
def test_an_unreachable_broker_is_an_error_entry_not_an_exception(config, failure):
    snap = read_snapshot(config, load_settings(config), FakeBroker(fail=failure))
    assert set(snap.errors) == {"kafka"} and snap.errors["kafka"]
    assert not snap.reachable("kafka")
    assert snap.consumer_lag == [] and snap.dead_letters == {}


def test_an_unexpected_broker_answer_is_logged_and_reported_not_raised(config, caplog):
    snap = read_snapshot(config, load_settings(config), FakeBroker(fail=ValueError("odd")))
    assert snap.errors == {"kafka": "unexpected ValueError: odd"}
    assert "reading the broker failed" in caplog.text
