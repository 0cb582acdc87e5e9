"""A polled row version's position and source time."""

from __future__ import annotations

import datetime as dt

from opdbus.connectors.polling.versions import kafka_key, position, stamp, ts_ms

WIB = dt.timezone(dt.timedelta(hours=7))


def test_position_is_the_key_at_the_version_in_utc_whatever_the_session_time_zone() -> None:
    utc = dt.datetime(2026, 11, 28, 3, 0, 0, 123456, tzinfo=dt.UTC)
    assert position([42], utc, xid=900) == "42@2026-11-28T03:00:00.123456+00:00"
    assert position([7], utc.replace(microsecond=0), 1) == "7@2026-11-28T03:00:00.000000+00:00"
    assert position([42], utc.astimezone(WIB), xid=900) == position([42], utc, xid=900)


def test_a_newer_version_has_a_new_position() -> None:
    first = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
    assert position([42], first, 1) != position([42], first + dt.timedelta(microseconds=1), 1)


def test_without_a_version_column_the_writer_xid_names_the_version() -> None:
    assert position([42], None, xid=4294967302) == "42@xid:4294967302"


def test_composite_keys_join_with_a_slash() -> None:
    assert kafka_key([2025, "dinkes"]) == "2025/dinkes"
    assert stamp(dt.date(2025, 1, 2)) == "2025-01-02"


def test_source_time_is_the_version_stamp_else_the_polls_time() -> None:
    version = dt.datetime(2026, 11, 28, 10, 0, tzinfo=WIB)
    polled = dt.datetime(2026, 11, 28, 4, 0, tzinfo=dt.UTC)
    assert ts_ms(version, None, polled) == int(version.timestamp() * 1000)
    assert ts_ms(None, None, polled) == int(polled.timestamp() * 1000)
    naive = dt.datetime(2026, 11, 28, 3, 0)
    assert ts_ms(naive, None, polled) == int(naive.replace(tzinfo=dt.UTC).timestamp() * 1000)


def test_a_version_from_a_transaction_that_started_before_the_last_poll_sorts_after_it() -> None:
    # T1 starts at 10:00; T2 starts at 10:01, updates the row and commits; a poll at 10:02
    # reads T2's version; T1 then updates the row: its updated_at (10:00) is the older one.
    t1_start = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
    t2_start = t1_start + dt.timedelta(minutes=1)
    poll = t1_start + dt.timedelta(minutes=2)
    t2_version = ts_ms(t2_start, None, poll)
    t1_version = ts_ms(t1_start, int(poll.timestamp() * 1000) + 1, poll)
    assert t1_version > t2_version
