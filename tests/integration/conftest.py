"""Integration tests run against the real local stack (`opdbus stack up`), never a stand-in.

The stack is started here if it is not running, so `pytest tests/integration` works alone.
Tests that restart the stack run last, so they cannot disturb the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from opdbus.config import Config
from opdbus.kafka import ensure_topics, make_admin, topic_spec
from opdbus.serde import AvroSerde
from opdbus.stack.manager import Stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "integration":
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.get_closest_marker("restarts_stack") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "restarts_stack: stops and starts the local stack")


@pytest.fixture(scope="session")
def stack(config: Config) -> Stack:
    local = Stack(config)
    local.up(progress=lambda line: None)
    return local


@pytest.fixture(scope="session")
def registry(stack: Stack, config: Config) -> SchemaRegistryClient:
    return SchemaRegistryClient(config.registry_client_conf())


@pytest.fixture
def serde(registry: SchemaRegistryClient) -> AvroSerde:
    return AvroSerde(registry)


@pytest.fixture
def new_topic(stack: Stack, config: Config) -> Iterator[Callable[..., str]]:
    """Makes topics with unique names, so reruns on a kept stack never see old data."""
    admin = make_admin(config)
    made: list[str] = []

    def make(prefix: str = "test", partitions: int = 3, compacted: bool = False) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        ensure_topics(admin, [topic_spec(name, partitions, compacted)])
        made.append(name)
        return name

    yield make
    if made:
        for future in admin.delete_topics(made, request_timeout=30).values():
            future.result(timeout=30)
