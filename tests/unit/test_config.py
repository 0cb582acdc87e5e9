"""Configuration precedence: shipped YAML, overlay file, then environment variables."""

from __future__ import annotations

import pytest

from opdbus.config import ConfigError, load


def test_shipped_defaults_point_clients_at_the_local_stack():
    config = load({})
    assert config.bootstrap_servers == "127.0.0.1:9092"
    assert config.registry_url == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert config.librdkafka("producer")["enable.idempotence"] is True
    assert config.librdkafka("producer")["partitioner"] == "murmur2_random"


def test_env_variable_overrides_a_nested_value_with_its_type():
    config = load({"OPDBUS_STACK__KAFKA__PORT": "19092"})
    assert config.stack["kafka"]["port"] == 19092
    assert config.bootstrap_servers == "127.0.0.1:19092"


def test_env_underscore_stands_for_a_librdkafka_dot():
    config = load({"OPDBUS_KAFKA__SASL_PASSWORD": "s3cret", "OPDBUS_PRODUCER__LINGER_MS": "20"})
    assert config.librdkafka("producer")["sasl.password"] == "s3cret"
    assert config.librdkafka("producer")["linger.ms"] == 20


def test_pointing_at_an_existing_cluster_replaces_every_endpoint():
    config = load(
        {
            "OPDBUS_KAFKA__BOOTSTRAP_SERVERS": "kafka.pontianak.go.id:9093",
            "OPDBUS_REGISTRY__URL": "https://registry.pontianak.go.id/apis/ccompat/v7",
            "OPDBUS_POSTGRES__URL": "postgresql://bus@db.pontianak.go.id:5432/postgres?sslmode=require",
        }
    )
    assert config.librdkafka("consumer")["bootstrap.servers"] == "kafka.pontianak.go.id:9093"
    assert config.registry_client_conf()["url"].startswith("https://registry.pontianak")
    assert config.postgres_url("opdbus") == (
        "postgresql://bus@db.pontianak.go.id:5432/opdbus?sslmode=require"
    )


def test_overlay_file_is_merged_over_the_shipped_file(tmp_path):
    overlay = tmp_path / "site.yaml"
    overlay.write_text("stack:\n  prometheus:\n    port: 19090\n")
    config = load({"OPDBUS_CONFIG": str(overlay)})
    assert config.prometheus_url == "http://127.0.0.1:19090"
    assert config.stack["kafka"]["port"] == 9092  # untouched siblings survive the merge


def test_unknown_section_in_env_is_refused_naming_the_variable():
    with pytest.raises(ConfigError, match="OPDBUS_STAK__KAFKA__PORT: no config section 'stak'"):
        load({"OPDBUS_STAK__KAFKA__PORT": "1"})


def test_malformed_boolean_in_env_is_refused_naming_the_variable():
    with pytest.raises(ConfigError, match="OPDBUS_PRODUCER__ENABLE_IDEMPOTENCE: expected true"):
        load({"OPDBUS_PRODUCER__ENABLE_IDEMPOTENCE": "maybe"})


def test_missing_overlay_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml does not exist"):
        load({"OPDBUS_CONFIG": str(tmp_path / "nope.yaml")})


def test_postgres_password_missing_says_how_to_provide_one(tmp_path):
    config = load({"OPDBUS_STACK__STATE_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="OPDBUS_POSTGRES__PASSWORD"):
        config.postgres_url()
