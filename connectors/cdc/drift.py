"""Schema drift: a column added to a source table becomes an optional field of the entity.

The widened record adds `{"name": col, "type": ["null", <avro type>], "default": null}` at the
end, which BACKWARD_TRANSITIVE accepts (old data reads with null, old readers skip it). The
Avro type comes from the column's PostgreSQL type as `format_type()` spells it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_SIMPLE: dict[str, Any] = {
    "smallint": "int",
    "integer": "int",
    "bigint": "long",
    "real": "float",
    "double precision": "double",
    "boolean": "boolean",
    "date": {"type": "int", "logicalType": "date"},
}
_TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}


def avro_type(pg_type: str) -> Any:
    """Avro type for a PostgreSQL type; text for anything without an exact Avro match
    (uuid, json, interval, unbounded numeric...), which loses nothing."""
    if pg_type.endswith("[]"):
        return {"type": "array", "items": avro_type(pg_type[:-2])}
    if pg_type in _SIMPLE:
        return copy.deepcopy(_SIMPLE[pg_type])
    if pg_type.startswith("timestamp"):
        return dict(_TIMESTAMP)
    numeric = _NUMERIC.fullmatch(pg_type)
    if numeric:
        precision, scale = int(numeric[1]), int(numeric[2])
        return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
    return "string"


def valid_field_name(column: str) -> bool:
    return _AVRO_NAME.fullmatch(column) is not None


def widen(record: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """A copy of the entity record with one optional field per new column (name -> PG type)."""
    widened = copy.deepcopy(record)
    present = {field["name"] for field in widened["fields"]}
    for column, pg_type in columns.items():
        if column in present:
            continue
        widened["fields"].append(
            {
                "name": column,
                "type": ["null", avro_type(pg_type)],
                "default": None,
                "doc": f"Added to the source table ({pg_type}); found by CDC, not yet in schemas/.",
            }
        )
    return widened
