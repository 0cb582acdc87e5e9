"""Avro logical types are converted by PostgreSQL, not Python.

The sink decodes every record with its writer schema stripped of logical types, so fastavro
returns the wire values (timestamp-millis as an int, a date as a day number, a decimal as its
unscaled two's-complement bytes) instead of building a datetime or Decimal per value, which
costs more than the rest of the decoding. Rows are staged with those wire values and the
merge's SELECT turns them into the table's types. Exact: integer arithmetic throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opdbus.wire import unscaled

INT4, INT8, INT8_ARRAY = 23, 20, 1016  # PostgreSQL type OIDs, for binary COPY

EPOCH_TS = "'1970-01-01 00:00:00+00'::timestamptz"


@dataclass(frozen=True)
class Conversion:
    """How one column travels: Python's part (None: the value as decoded), the staging column
    type (None: the table's own), and the SQL that makes the table's value of staged `{}`."""

    python: Callable[[Any], Any] | None = None
    stage_type: str | None = None
    stage_oid: int | None = None
    expression: str = "{}"


AS_IS = Conversion()
TIMESTAMP_MILLIS = Conversion(None, "bigint", INT8, EPOCH_TS + " + {} * interval '1 millisecond'")
TIMESTAMP_MICROS = Conversion(None, "bigint", INT8, EPOCH_TS + " + {} * interval '1 microsecond'")
DATE = Conversion(None, "integer", INT4, "'1970-01-01'::date + {}")


# Up to 18 digits an unscaled decimal fits a bigint; beyond, Python builds the Decimal.
BIGINT_DIGITS = 18


def _unscaled_all(items: list[bytes] | None) -> list[int] | None:
    return None if items is None else [unscaled(b) for b in items]


def _decimal(precision: int, scale: int) -> Conversion:
    if precision > BIGINT_DIGITS:
        return Conversion(lambda data: Decimal(unscaled(data)).scaleb(-scale))
    return Conversion(unscaled, "bigint", INT8, f"({{}} * 1e-{scale})" if scale else "{}")


def _decimal_array(precision: int, scale: int) -> Conversion:
    if precision > BIGINT_DIGITS:
        return Conversion(
            lambda items: (
                None if items is None else [Decimal(unscaled(b)).scaleb(-scale) for b in items]
            )
        )
    factor = f" * 1e-{scale}" if scale else ""
    return Conversion(
        _unscaled_all,
        "bigint[]",
        INT8_ARRAY,
        "CASE WHEN {0} IS NULL THEN NULL ELSE coalesce((SELECT array_agg(x"
        + factor
        + " ORDER BY n) FROM unnest({0}) WITH ORDINALITY AS u(x, n)), '{{}}') END",
    )


def _branch(avro_type: Any) -> Any:
    """The non-null branch of an optional union."""
    if isinstance(avro_type, list):
        others = [t for t in avro_type if t != "null"]
        return others[0] if len(others) == 1 else avro_type
    return avro_type


def conversion(avro_type: Any) -> Conversion:
    """The conversion of a field of this Avro type (an optional union counts as its branch)."""
    kind = _branch(avro_type)
    if not isinstance(kind, dict):
        return AS_IS
    logical = kind.get("logicalType")
    if logical == "timestamp-millis":
        return TIMESTAMP_MILLIS
    if logical == "timestamp-micros":
        return TIMESTAMP_MICROS
    if logical == "date":
        return DATE
    if logical == "decimal" and kind.get("type") == "bytes":
        return _decimal(int(kind["precision"]), int(kind.get("scale", 0)))
    if kind.get("type") == "array":
        items = _branch(kind["items"])
        if isinstance(items, dict) and items.get("logicalType") == "decimal":
            return _decimal_array(int(items["precision"]), int(items.get("scale", 0)))
    return AS_IS
