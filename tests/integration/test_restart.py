"""Data and schemas live on disk: a stopped and restarted stack still has them."""

from __future__ import annotations

import pytest

from opdbus import schemas
from opdbus.serde import AvroSerde

from .kafka_io import consume, produce
from .samples import penduduk_event


@pytest.mark.restarts_stack
def test_topic_data_and_registered_schemas_survive_stack_down_and_up(
    stack, config, registry, new_topic
):
    topic = new_topic("test.restart")
    encoder = AvroSerde(registry).encoder(f"{topic}-value", schemas.current("penduduk"), True)
    events = [penduduk_event(position=f"0/{i:X}") for i in range(20)]
    produce(config, topic, [(e["after"]["nik"], encoder.encode(e)) for e in events])

    stack.down(progress=lambda line: None)
    assert all(svc["state"] == "down" for svc in stack.status()["services"].values())
    stack.up(progress=lambda line: None)

    fresh = AvroSerde(registry.__class__(config.registry_client_conf()))
    read = [fresh.decode(msg.value()) for msg in consume(config, topic, 20)]
    assert sorted(e["source"]["position"] for e in read) == sorted(
        e["source"]["position"] for e in events
    )
    assert registry.get_latest_version(f"{topic}-value").schema_id == encoder.schema_id
