"""Source rows to Avro records, field by field, with errors that name the field and the rule.

Every connector sees rows in its own shape: wal2json text values, psycopg Python values, CSV
strings, JSON values. One builder per entity schema turns any of them into what the Avro
schema wants, or raises RecordError saying which field broke which rule, so a bad row can be
parked with its reason and the rest of the batch goes on.

Records hold Avro wire values, which the publisher writes with logical types stripped
(opdbus.serde.strip_logical): a date as days since 1970-01-01, a timestamp as milliseconds
(or microseconds) since the epoch, a decimal as its unscaled two's-complement bytes. The bytes
are the ones fastavro writes for the date, datetime or Decimal (a test holds them equal),
without fastavro converting each value again.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opdbus import wire

UTC = dt.UTC


class RecordError(ValueError):
    """A row that does not fit the schema: field, rule, and the offending value."""

    def __init__(self, field: str, rule: str, value: Any = None) -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(f"field '{field}': {rule} (got {shown})")
        self.field = field
        self.rule = rule


Convert = Callable[[Any], Any]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return str(value)
    raise ValueError("must be text")


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (str, decimal.Decimal)):
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError("must be a whole number") from None
        if number == number.to_integral_value():
            return int(number)
    raise ValueError("must be a whole number")


def _real(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    try:
        number = float(value.strip().replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("t", "true", "1", "ya", "y"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("f", "false", "0", "tidak", "n"):
        return False
    raise ValueError("must be true or false")


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError("must be a date YYYY-MM-DD")


def _date(value: Any) -> int:
    return wire.days(_as_date(value))


def _as_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:  # also PostgreSQL's text form, "2026-11-28 10:00:00+07"
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("must be an ISO-8601 timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError("must be an ISO-8601 timestamp")


def _timestamp_converter(per_second: int) -> Convert:
    def convert(value: Any) -> int:
        return wire.since_epoch(_as_timestamp(value), per_second)

    return convert


def _decimal_converter(scale: int, precision: int) -> Convert:
    quantum = decimal.Decimal(1).scaleb(-scale)

    def convert(value: Any) -> bytes:
        if isinstance(value, bool):
            raise ValueError("must be a decimal number")
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError("must be a decimal number") from None
        if not number.is_finite():
            raise ValueError("must be a finite decimal number")
        scaled = number.quantize(quantum)
        if scaled != number:
            raise ValueError(f"must have at most {scale} decimal places")
        if len(scaled.as_tuple().digits) > precision:
            raise ValueError(f"must have at most {precision} digits")
        return wire.decimal_bytes(int(scaled.scaleb(scale)))

    return convert


def _converter(avro_type: Any, named: dict[str, Any]) -> Convert:
    if isinstance(avro_type, str) and avro_type in named:
        avro_type = named[avro_type]
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) != 1:
            raise NotImplementedError(f"union {avro_type} is not a nullable single type")
        inner = _converter(branches[0], named)
        return lambda value: None if value is None else inner(value)
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        kind = avro_type["type"]
        if logical == "date":
            return _date
        if logical == "timestamp-millis":
            return _timestamp_converter(1_000)
        if logical == "timestamp-micros":
            return _timestamp_converter(1_000_000)
        if logical == "decimal":
            return _decimal_converter(avro_type.get("scale", 0), avro_type["precision"])
        if kind == "enum":
            named[avro_type["name"]] = avro_type
            symbols = set(avro_type["symbols"])
            listing = ", ".join(avro_type["symbols"])

            def enum(value: Any) -> str:
                text = _text(value).strip()
                if text not in symbols:
                    raise ValueError(f"must be one of {listing}")
                return text

            return enum
        if kind == "array":
            item = _converter(avro_type["items"], named)

            def array(value: Any) -> list[Any]:
                if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
                    value = [v for v in value[1:-1].split(",") if v]  # PostgreSQL array text
                if not isinstance(value, (list, tuple)):
                    raise ValueError("must be a list")
                return [item(v) for v in value]

            return array
        return _converter(kind, named)
    simple: dict[str, Convert] = {
        "string": _text,
        "int": _integer,
        "long": _integer,
        "float": _real,
        "double": _real,
        "boolean": _boolean,
    }
    if avro_type not in simple:
        raise NotImplementedError(f"Avro type {avro_type!r} has no row converter")
    return simple[avro_type]


@dataclass(frozen=True)
class _Field:
    name: str
    convert: Convert
    nullable: bool
    default: Any


class RecordBuilder:
    """Builds records of one entity schema (the entity record, not the envelope)."""

    def __init__(self, entity_record: Mapping[str, Any]) -> None:
        named: dict[str, Any] = {}
        self.name = entity_record["name"]
        self.fields = [
            _Field(
                f["name"],
                _converter(f["type"], named),
                nullable=isinstance(f["type"], list) and "null" in f["type"],
                default=f.get("default"),
            )
            for f in entity_record["fields"]
        ]
        self.field_names = frozenset(f.name for f in self.fields)

    def build(self, row: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for field in self.fields:
            value = row.get(field.name)
            if isinstance(value, str) and not value.strip():
                value = None  # an empty cell or form field means "no value"
            if value is None:
                if not field.nullable and field.default is None:
                    raise RecordError(field.name, "is required", value)
                record[field.name] = None if field.nullable else field.default
                continue
            try:
                record[field.name] = field.convert(value)
            except ValueError as exc:
                raise RecordError(field.name, str(exc), value) from None
        return record
