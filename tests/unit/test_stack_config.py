"""What the stack manager writes and decides before any process starts."""

from __future__ import annotations

import pytest

from opdbus.config import load
from opdbus.stack import distribution
from opdbus.stack.kafka import server_properties
from opdbus.stack.layout import Layout
from opdbus.stack.manager import redact
from opdbus.stack.process import StackError
from opdbus.stack.prometheus import CONFIG_DIR, local_config, local_targets


def test_single_node_kafka_sets_every_replication_factor_and_min_isr_to_one(tmp_path):
    props = server_properties(load({}).stack["kafka"], tmp_path)
    replicated = {k: v for k, v in props.items() if "replication.factor" in k or "min.isr" in k}
    assert "share.coordinator.state.topic.replication.factor" in replicated
    assert "transaction.state.log.min.isr" in replicated
    assert set(replicated.values()) == {"1"}
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"


def test_local_prometheus_config_uses_absolute_rule_paths_and_generated_targets(tmp_path):
    config = load({})
    rendered = local_config(config, str(tmp_path / "targets.yml"))
    assert rendered["rule_files"] == [str(CONFIG_DIR / "rules/*.yml")]
    opdbus_job = next(j for j in rendered["scrape_configs"] if j["job_name"] == "opdbus")
    assert opdbus_job["file_sd_configs"][0]["files"] == [str(tmp_path / "targets.yml")]
    ports = config.section("metrics")["ports"]
    assert len(local_targets(config)) == len(ports)


def test_redact_hides_the_password_only():
    assert redact("postgresql://opdbus:pw@127.0.0.1:5433/opdbus") == (
        "postgresql://opdbus:***@127.0.0.1:5433/opdbus"
    )
    assert redact("http://127.0.0.1:9090") == "http://127.0.0.1:9090"


def test_missing_maven_is_reported_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(distribution.shutil, "which", lambda name: None)
    with pytest.raises(StackError, match=r"mvn not found: install Maven \(apt-get install maven\)"):
        distribution.ensure_downloaded(Layout(tmp_path, tmp_path / "cache"), progress=print)


def test_a_configured_java_that_is_too_old_is_refused(tmp_path):
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    fake.chmod(0o755)
    with pytest.raises(StackError, match="is not Java 21\\+ \\(got 17\\)"):
        distribution.find_java(21, str(fake))
