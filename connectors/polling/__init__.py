"""Polling connector (BKAD finance): sources that grant SELECT rights and nothing more.

Each poll reads, in one read-only snapshot, the row versions written by transactions the
cursor has not covered (by row xmin), publishes them, waits for Kafka's acknowledgement and
only then saves the cursor in the bus's offset store. Rows that commit out of order, however
long their transaction stayed open, are still read: docs/decisions/0005.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from opdbus import schemas
from opdbus.config import Config, ConfigError
from opdbus.connectors.offsets import OffsetStore
from opdbus.connectors.publisher import Publisher
from opdbus.connectors.records import RecordBuilder

from .connector import PollingConnector
from .query import Table, connect


def tables(spec: dict[str, Any]) -> list[Table]:
    configured = spec.get("tables") or {}
    if not configured:
        raise ConfigError("a polling source needs `tables: {table: {topic, key, watermark}}`")
    found = []
    for name, table in configured.items():
        key = table.get("key") or []
        if isinstance(key, str):
            key = [key]
        if not table.get("topic") or not key:
            raise ConfigError(f"polling table {name!r} needs a topic and a key")
        found.append(Table(name, table["topic"], tuple(key), table.get("watermark") or None))
    return found


def build(
    config: Config, name: str, spec: dict[str, Any], publisher: Publisher
) -> PollingConnector:
    built = []
    for table in tables(spec):
        publisher.encoder(table.topic)  # fails now, naming the topic, if it is not registered
        entity = schemas.entity_versions(publisher.entity(table.topic))[-1]
        built.append((table, RecordBuilder(entity)))
    # A read-only role of the source may be given as its own URL; else the bus's server.
    url = spec.get("url") or config.postgres_url(spec["database"])
    return PollingConnector(
        name,
        spec,
        publisher,
        built,
        connect_source=partial(connect, url, f"opdbus-polling-{name}"),
        open_offsets=partial(OffsetStore, config, name),
    )
