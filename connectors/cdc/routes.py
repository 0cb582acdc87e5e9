"""One captured table: its topic, key, entity schema (widened when the table gains a column)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka.schema_registry.error import SchemaRegistryError

from opdbus import schemas
from opdbus.connectors.cdc import drift
from opdbus.connectors.cdc.positions import key_text
from opdbus.connectors.publisher import Publisher
from opdbus.connectors.records import RecordBuilder

log = logging.getLogger("opdbus.connect.cdc")


@dataclass
class Route:
    schema: str
    name: str
    topic: str
    key: list[str]
    compacted: bool
    entity: str
    record: dict[str, Any]
    # Columns the table had when the connector first saw it but no schema version has: the
    # contract says they are ignored. Columns added later are drift and get published.
    baseline_extras: frozenset[str] = frozenset()
    builder: RecordBuilder = field(init=False)
    accepted: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.builder = RecordBuilder(self.record)
        self.accepted = self.builder.field_names | self.baseline_extras

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def key_of(self, row: Mapping[str, Any]) -> str:
        return key_text(row, self.key)

    def check_columns(
        self, row: Mapping[str, Any], publisher: Publisher, types: Callable[[], dict[str, str]]
    ) -> None:
        """Widen the schema if the row has columns we have not seen (types: the table's column
        types from the catalog, asked only then)."""
        if row.keys() <= self.accepted:
            return
        new = sorted(row.keys() - self.accepted)
        catalog = types()
        usable = {c: catalog.get(c, "text") for c in new if drift.valid_field_name(c)}
        for column in set(new) - set(usable):
            log.error(
                "%s: column %r is not a valid Avro field name; ignored", self.qualified, column
            )
        if usable:
            self._widen(usable, publisher)
        self.accepted = self.accepted | set(new)

    def _widen(self, columns: dict[str, str], publisher: Publisher) -> None:
        widened = drift.widen(self.record, columns)
        try:
            publisher.encoder(self.topic, schemas.compose(widened))
        except (SchemaRegistryError, ValueError) as exc:
            log.error(
                "%s gained column(s) %s but the widened schema was refused for %s (%s): their "
                "values are left out; add them to schemas/%s/",
                self.qualified,
                ", ".join(columns),
                self.topic,
                exc,
                self.entity,
            )
            return
        self.record = widened
        self.builder = RecordBuilder(widened)
        next_version = len(schemas.entity_versions(self.entity)) + 1
        log.warning(
            "%s gained column(s) %s: published as optional field(s) of a widened schema "
            "registered for %s; add %s to schemas/%s/v%d.avsc",
            self.qualified,
            ", ".join(f"{c} ({t})" for c, t in columns.items()),
            self.topic,
            "it" if len(columns) == 1 else "them",
            self.entity,
            next_version,
        )
