"""Avro wire values: what a record holds when it is decoded or encoded with its schema's
logical types stripped (opdbus.serde.strip_logical), and the few conversions the stages make.

A date is days since 1970-01-01, a timestamp-millis (-micros) an int since the epoch, a
decimal its unscaled two's-complement bytes. Connectors build them, processors read a date or
an amount's sign from them, the sink lets PostgreSQL convert them.
"""

from __future__ import annotations

import datetime as dt

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_ORDINAL = EPOCH.date().toordinal()
MS_PER_DAY = 86_400_000


def days(day: dt.date) -> int:
    return day.toordinal() - EPOCH_ORDINAL


def since_epoch(moment: dt.datetime, per_second: int) -> int:
    """Whole milliseconds (per_second 1000) or microseconds of an aware datetime, rounded
    down as fastavro rounds them."""
    delta = moment - EPOCH
    whole = (delta.days * 86_400 + delta.seconds) * per_second
    return whole + delta.microseconds // (1_000_000 // per_second)


def date_of_days(count: int) -> dt.date:
    return dt.date.fromordinal(EPOCH_ORDINAL + count)


def date_of_millis(millis: int) -> dt.date:
    """The UTC day of a timestamp-millis."""
    return date_of_days(millis // MS_PER_DAY)


def unscaled(data: bytes) -> int:
    """A decimal's unscaled integer from its bytes."""
    return int.from_bytes(data, "big", signed=True)


def decimal_bytes(unscaled_value: int) -> bytes:
    """A decimal's bytes, sized as fastavro sizes them: the magnitude's bits plus a sign bit,
    in whole bytes."""
    length = (abs(unscaled_value).bit_length() + 8) // 8
    return unscaled_value.to_bytes(length, "big", signed=True)
