"""`opdbus status` verdicts and rendering, from readings made up here (no services)."""

from __future__ import annotations

import json
import re

import pytest

from opdbus import config as config_module
from opdbus.observe.collect import Snapshot
from opdbus.observe.figures import PartitionLag
from opdbus.observe.render import render
from opdbus.observe.settings import load_settings
from opdbus.observe.slots import SlotReading
from opdbus.observe.status import (
    UNHEALTHY_EXIT,
    Inputs,
    exit_code,
    human_bytes,
    human_seconds,
    problems,
    report,
)

GIB = 1024**3


@pytest.fixture(scope="module")
def settings():
    return load_settings(config_module.load(environ={}))


def healthy_inputs() -> Inputs:
    snap = Snapshot(
        taken_at=0.0,
        targets=["kafka", "postgres:siak"],
        consumer_lag=[PartitionLag("opdbus-sink", "integrated.keuangan", 0, 90, 100)],
        freshness={"siak": 30.0, "perencanaan": None},
        dead_letters={"dlq.connectors": 3},
        slots={"siak": SlotReading("siak", "opdbus_siak", True, 4096, "reserved")},
    )
    return Inputs(
        snapshot=snap,
        configured_components=["connector-siak", "demo", "lag-collector"],
        prometheus_url="http://127.0.0.1:9090",
        components={"connector-siak": True, "demo": False, "lag-collector": True},
        stack_services={"postgres": "up", "kafka": "up"},
    )


def test_all_up_and_within_limits_is_healthy_and_exits_0(settings):
    rep = report(healthy_inputs(), settings)
    assert rep["problems"] == []
    assert exit_code(rep) == 0
    assert rep["components"]["demo"] == "one-shot, not running"


def test_a_component_down_is_named_and_exits_non_zero(settings):
    inputs = healthy_inputs()
    inputs.components = {**inputs.components, "connector-siak": False}
    rep = report(inputs, settings)
    assert rep["components"]["connector-siak"] == "down"
    assert any("connector-siak is down" in p for p in rep["problems"]), rep["problems"]
    assert exit_code(rep) == UNHEALTHY_EXIT


def test_a_configured_component_prometheus_does_not_scrape_is_a_problem(settings):
    inputs = healthy_inputs()
    inputs.configured_components.append("processor")
    rep = report(inputs, settings)
    assert rep["components"]["processor"] == "not scraped"
    assert any(p.startswith("processor is configured") for p in rep["problems"])


def test_prometheus_down_makes_components_unknown_and_says_why(settings):
    inputs = healthy_inputs()
    inputs.components = None
    inputs.prometheus_error = "Prometheus at http://127.0.0.1:9090 unreachable (refused)"
    rep = report(inputs, settings)
    assert set(rep["components"].values()) == {"unknown"}
    assert rep["problems"] == [f"{inputs.prometheus_error}: component states unknown"]
    assert "PROMETHEUS UNREACHABLE" in render(rep)


def test_a_stack_service_down_is_a_problem(settings):
    inputs = healthy_inputs()
    inputs.stack_services = {"postgres": "up", "kafka": "down"}
    assert problems(inputs, settings) == ["stack service kafka is down"]


def test_an_unreachable_broker_is_a_problem_naming_it(settings):
    inputs = healthy_inputs()
    inputs.snapshot.errors["kafka"] = "Failed to get metadata: Local: Broker transport failure"
    assert problems(inputs, settings) == [
        "cannot reach kafka: Failed to get metadata: Local: Broker transport failure"
    ]


def test_lag_slot_and_silence_over_their_limits_are_problems(settings):
    inputs = healthy_inputs()
    snap = inputs.snapshot
    snap.consumer_lag = [PartitionLag("opdbus-processor", "opd.bkad.realisasi", 0, 0, 200_000)]
    snap.slots = {"siak": SlotReading("siak", "opdbus_siak", True, 2 * GIB, "extended")}
    snap.freshness = {"siak": 4 * 86400.0}
    found = problems(inputs, settings)
    assert found == [
        "consumer group opdbus-processor lags 200000 messages (over 100000)",
        "replication slot opdbus_siak of siak holds 2.0 GiB of WAL (over 1.0 GiB)",
        "source siak silent for 4.0d (expected an event within 3.0d)",
    ]


def test_a_source_without_expected_interval_or_events_is_never_silent(settings):
    inputs = healthy_inputs()
    inputs.snapshot.freshness = {"perencanaan": 400 * 86400.0, "keuangan": None}
    assert problems(inputs, settings) == []


def test_an_invalidated_slot_says_a_new_snapshot_is_needed(settings):
    inputs = healthy_inputs()
    inputs.snapshot.slots = {"siak": SlotReading("siak", "opdbus_siak", True, None, "lost")}
    (problem,) = problems(inputs, settings)
    assert "invalidated" in problem and "new snapshot" in problem


def test_json_report_groups_lag_by_group_topic_and_partition(settings):
    inputs = healthy_inputs()
    inputs.snapshot.consumer_lag.append(PartitionLag("opdbus-sink", "integrated.keuangan", 1, 0, 5))
    rep = json.loads(json.dumps(report(inputs, settings)))  # JSON-serialisable as is
    assert rep["consumer_lag"] == {
        "opdbus-sink": {"total": 15, "topics": {"integrated.keuangan": {"0": 10, "1": 5}}}
    }
    assert rep["slots"]["siak"]["lag_bytes"] == 4096
    assert rep["freshness"]["perencanaan"] == {"seconds": None, "expected_within_s": None}


def test_text_report_ends_with_the_verdict_and_lists_each_problem(settings):
    inputs = healthy_inputs()
    assert render(report(inputs, settings)).splitlines()[-1] == "HEALTHY"
    inputs.components = {**inputs.components, "lag-collector": False}
    text = render(report(inputs, settings))
    assert re.search(r"^UNHEALTHY \(1\):\n  - lag-collector is down", text, re.M), text


@pytest.mark.parametrize(("n", "text"), [(512, "512 B"), (1536, "1.5 KiB"), (3 * GIB, "3.0 GiB")])
def test_human_bytes(n, text):
    assert human_bytes(n) == text


@pytest.mark.parametrize(
    ("s", "text"), [(42, "42s"), (600, "10m"), (5400, "90m"), (10800, "3.0h"), (259200, "3.0d")]
)
def test_human_seconds(s, text):
    assert human_seconds(s) == text
