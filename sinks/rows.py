"""One integrated event -> one row of its unified table, in the table's column order.

The row is the record the change is about (`after`, or `before` for a delete: deletes are soft
and keep the deleted row's values) plus the envelope's lineage; `dihapus` says it was deleted.
Values are Avro wire values (sinks/wire.py): source_ts is epoch milliseconds here, and only
becomes a timestamptz in the merge.

This runs once per event, so the row builder of a table is generated once as a single tuple
expression (one call per event instead of one per column; the names in it come from the
catalog and the schema, and are embedded as string literals).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opdbus.sinks.tables import Table

Row = tuple[Any, ...]

# Lineage column -> expression over the envelope `e` and its source `s`.
LINEAGE_EXPRESSIONS = {
    "event_id": "e['event_id']",
    "source_opd": "s['opd']",
    "source_system": "s['system']",
    "source_database": "s['database']",
    "source_table": "s['table']",
    "source_position": "s['position']",
    "source_tx_id": "s.get('tx_id')",
    "source_ts": "s['ts_ms']",
    "processed_at": "e.get('ts_ms')",
    "dihapus": "e['op'] == 'd'",
}
_EMPTY: dict[str, Any] = {}


class RowError(ValueError):
    """An event that cannot become a row of its table (it goes to the dead-letter topic)."""


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


def build(table: Table) -> Callable[[dict[str, Any], dict[str, Any]], Row]:
    """`row(envelope, record)` for table: its columns' values, in order."""
    parts = []
    converters: list[Callable[[Any], Any]] = []
    for column, conversion in zip(table.columns, table.conversions, strict=True):
        if column in LINEAGE_EXPRESSIONS:
            expression = LINEAGE_EXPRESSIONS[column]
        else:
            path = table.paths[column]
            expression = f"r.get({path[0]!r})"
            if len(path) == 2:  # a nested record's field
                expression = f"({expression} or EMPTY).get({path[1]!r})"
        if conversion.python is not None:
            converters.append(_optional(conversion.python))
            expression = f"c[{len(converters) - 1}]({expression})"
        parts.append(expression)
    source = "lambda e, r: (lambda s: (" + ", ".join(parts) + ",))(e['source'])"
    return eval(source, {"c": tuple(converters), "EMPTY": _EMPTY})


class RowMapper:
    """Builds rows of one table and reads their natural key."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.key_indexes = table.key_indexes
        self.ts_index = table.columns.index("source_ts")
        self.position_index = table.columns.index("source_position")
        self._build = build(table)
        required = (*self.key_indexes, self.ts_index, self.position_index)
        self._required = eval("lambda row: (" + "".join(f"row[{i}], " for i in required) + ")")
        self.key = eval("lambda row: (" + "".join(f"row[{i}], " for i in self.key_indexes) + ")")

    def row(self, event: dict[str, Any]) -> Row:
        record = event["before"] if event["op"] == "d" else event["after"]
        if not isinstance(record, dict):
            raise RowError(f"op {event['op']!r} event {event.get('event_id')} has no row")
        try:
            row = self._build(event, record)
        except (KeyError, AttributeError, TypeError) as exc:
            raise RowError(f"event {event.get('event_id')} lacks {exc}") from exc
        if None in self._required(row):
            raise RowError(
                f"event {event.get('event_id')} has no {self.table.name} key or source position"
            )
        return row
