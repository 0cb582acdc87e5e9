"""Which unified table each integrated topic fills, and that table's shape.

The table in PostgreSQL is the contract: its columns and primary key are read from the catalog
(so a migration that adds a column is picked up on the next start), and each column is filled
from the record field of the same name, a nested record's fields flattened as
`<record>_<field>` (pemohon.status -> pemohon_status), or from the envelope's lineage. How a
value travels (wire value, staging type, SQL conversion) follows the field's Avro type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from opdbus import schemas
from opdbus.config import Config, ConfigError
from opdbus.sinks.wire import AS_IS, TIMESTAMP_MILLIS, Conversion, conversion

# Integrated entity (config topics.<topic>.schema) -> table in the unified schema.
ENTITY_TABLES = {
    "perizinan": "perizinan",
    "keuangan": "keuangan",
    "perencanaan": "perencanaan",
    "capaian_kinerja": "kinerja",
    "penduduk_pseudonim": "penduduk",
}

# Lineage columns and how they travel: source.ts_ms and the envelope's ts_ms are
# timestamp-millis; the rest are strings, and dihapus a boolean.
LINEAGE: dict[str, Conversion] = {
    "event_id": AS_IS,
    "source_opd": AS_IS,
    "source_system": AS_IS,
    "source_database": AS_IS,
    "source_table": AS_IS,
    "source_position": AS_IS,
    "source_tx_id": AS_IS,
    "source_ts": TIMESTAMP_MILLIS,
    "processed_at": TIMESTAMP_MILLIS,
    "dihapus": AS_IS,
}
# Set by the merge itself (the sink's commit), never copied.
INGESTED_AT = "ingested_at"

# Path of a column in the record: (field,) or (record field, nested field).
FieldPath = tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A unified table as the sink writes it: the columns it copies, in order, and the key."""

    name: str
    entity: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    paths: dict[str, FieldPath]
    conversions: tuple[Conversion, ...]
    types: tuple[int, ...] = ()  # the table's own type OIDs
    sql_types: tuple[str, ...] = ()  # and as SQL, e.g. numeric(18,2)[]

    @property
    def key_indexes(self) -> tuple[int, ...]:
        return tuple(self.columns.index(column) for column in self.key)

    @property
    def stage_types(self) -> tuple[str, ...]:
        return tuple(
            c.stage_type or t for c, t in zip(self.conversions, self.sql_types, strict=True)
        )

    @property
    def stage_oids(self) -> tuple[int, ...]:
        return tuple(c.stage_oid or t for c, t in zip(self.conversions, self.types, strict=True))


def record_columns(record_schema: dict[str, Any]) -> dict[str, tuple[FieldPath, Any]]:
    """Column name -> (where its value sits in a decoded record, its Avro type)."""
    found: dict[str, tuple[FieldPath, Any]] = {}
    for field in record_schema["fields"]:
        kind = field["type"]
        if isinstance(kind, dict) and kind.get("type") == "record":
            for nested in kind["fields"]:
                found[f"{field['name']}_{nested['name']}"] = (
                    (field["name"], nested["name"]),
                    nested["type"],
                )
        else:
            found[field["name"]] = ((field["name"],), kind)
    return found


def layout(
    entity: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    types: tuple[int, ...] = (),
    sql_types: tuple[str, ...] = (),
) -> Table:
    """The Table for these columns of entity's table; refuses a column nothing fills."""
    name = ENTITY_TABLES[entity]
    fields = record_columns(schemas.entity_versions(entity)[-1])
    unfilled = [c for c in columns if c not in fields and c not in LINEAGE]
    if unfilled:
        raise ConfigError(
            f"unified {name} has columns no field of schema {entity} fills: {', '.join(unfilled)}"
        )
    if not key:
        raise ConfigError(f"unified {name} has no primary key (the natural key)")
    return Table(
        name,
        entity,
        columns,
        key,
        {c: fields[c][0] for c in columns if c in fields},
        tuple(LINEAGE[c] if c in LINEAGE else conversion(fields[c][1]) for c in columns),
        types,
        sql_types,
    )


def topic_entities(config: Config, topics: list[str]) -> dict[str, str]:
    """Topic -> integrated entity, from config `topics`; refuses a topic the sink cannot map."""
    found = {}
    for topic in topics:
        entity = (config.topics.get(topic) or {}).get("schema")
        if entity not in ENTITY_TABLES:
            raise ConfigError(
                f"sink.topics: {topic} needs a `topics` entry whose schema is one of "
                f"{', '.join(ENTITY_TABLES)} (got {entity!r})"
            )
        found[topic] = entity
    return found


def describe(conn: psycopg.Connection, schema: str, entity: str) -> Table:
    name = ENTITY_TABLES[entity]
    rows = conn.execute(
        """
        SELECT a.attname, coalesce(a.attnum = ANY(i.indkey), false), a.atttypid::int,
               format_type(a.atttypid, a.atttypmod)
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
         WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum
        """,
        (schema, name),
    ).fetchall()
    if not rows:
        raise ConfigError(f"table {schema}.{name} does not exist: run `opdbus sink --migrate-only`")
    copied = [row for row in rows if row[0] != INGESTED_AT]
    return layout(
        entity,
        tuple(row[0] for row in copied),
        tuple(row[0] for row in copied if row[1]),
        tuple(row[2] for row in copied),
        tuple(row[3] for row in copied),
    )
