"""wal2json format-version 2 messages to changes: transaction context, positions, rows."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest

from opdbus.connectors.cdc.wal2json import DecodeError, Decoder

TS = "2026-11-28 03:54:18.739135+00"


def begin(xid: int = 841, nextlsn: str = "0/2F41088") -> str:
    return json.dumps(
        {"action": "B", "xid": xid, "timestamp": TS, "lsn": "0/2F41058", "nextlsn": nextlsn}
    )


def commit(xid: int = 841, nextlsn: str = "0/2F41088") -> str:
    return json.dumps(
        {"action": "C", "xid": xid, "timestamp": TS, "lsn": "0/2F41058", "nextlsn": nextlsn}
    )


def change(action: str, lsn: str, columns=None, identity=None, xid: int = 841) -> str:
    message = {
        "action": action,
        "xid": xid,
        "timestamp": TS,
        "lsn": lsn,
        "schema": "public",
        "table": "penduduk",
    }
    if columns is not None:
        message["columns"] = [{"name": k, "value": v} for k, v in columns.items()]
    if identity is not None:
        message["identity"] = [{"name": k, "value": v} for k, v in identity.items()]
    return json.dumps(message)


def feed(*messages: str) -> tuple[Decoder, list]:
    decoder = Decoder()
    changes = [c for c in (decoder.feed(m) for m in messages) if c is not None]
    return decoder, changes


def test_a_change_carries_its_transaction_id_and_commit_time():
    _, [insert] = feed(begin(), change("I", "0/2F40F28", {"nik": "1"}), commit())
    assert insert.xid == 841
    committed = dt.datetime(2026, 11, 28, 3, 54, 18, 739135, tzinfo=dt.UTC)
    assert insert.ts_ms == int(committed.timestamp() * 1000)
    assert (insert.schema, insert.table, insert.action) == ("public", "penduduk", "I")
    assert insert.after == {"nik": "1"} and insert.before is None


def test_position_is_commit_end_then_change_lsn_then_event_number_all_padded():
    _, [insert] = feed(begin(nextlsn="1/A"), change("I", "0/2F40F28", {"nik": "1"}), commit())
    assert insert.position == "00000001/0000000A:00000000/02F40F28:0"


def test_rows_of_one_wal_record_get_consecutive_event_numbers():
    _, changes = feed(
        begin(),
        change("I", "0/100", {"nik": "1"}),
        change("I", "0/100", {"nik": "2"}),  # COPY: one multi-insert record
        change("I", "0/200", {"nik": "3"}),
        commit(),
    )
    assert [c.position.rsplit(":", 1)[1] for c in changes] == ["0", "1", "0"]
    assert len({c.position for c in changes}) == 3


def test_reading_the_same_messages_again_gives_the_same_positions():
    messages = [begin(), change("I", "0/100", {"nik": "1"}), change("I", "0/100", {"nik": "2"})]
    messages.append(commit())
    assert [c.position for c in feed(*messages)[1]] == [c.position for c in feed(*messages)[1]]


def test_later_transactions_sort_after_earlier_ones_as_text():
    # An LSN whose low half needs more digits must still sort after: padding does it.
    _, [early] = feed(begin(nextlsn="0/FFFFFF"), change("I", "0/FFFF00", {"nik": "1"}), commit())
    _, [late] = feed(begin(nextlsn="0/1000000"), change("U", "0/FFFFF0", {"nik": "1"}), commit())
    assert early.position < late.position


def test_update_carries_the_old_row_from_the_replica_identity():
    _, [update] = feed(
        begin(),
        change("U", "0/100", {"nik": "1", "nama": "B"}, identity={"nik": "1", "nama": "A"}),
        commit(),
    )
    assert update.before == {"nik": "1", "nama": "A"}
    assert update.after == {"nik": "1", "nama": "B"}


def test_unchanged_toasted_value_missing_from_the_new_row_is_taken_from_the_old_row():
    _, [update] = feed(
        begin(),
        change("U", "0/100", {"nik": "1", "nama": "B"}, {"nik": "1", "nama": "A", "catatan": "x"}),
        commit(),
    )
    assert update.after == {"nik": "1", "nama": "B", "catatan": "x"}


def test_delete_has_only_the_old_row():
    _, [delete] = feed(begin(), change("D", "0/100", identity={"nik": "1"}), commit())
    assert delete.action == "D" and delete.after is None and delete.before == {"nik": "1"}


def test_numeric_values_are_read_as_exact_decimals():
    raw = change("I", "0/100", {"nik": "1"}).replace(
        '"1"}]', '"1"}, {"name": "pagu", "value": 0.10}]'
    )
    _, [insert] = feed(begin(), raw, commit())
    assert insert.after["pagu"] == decimal.Decimal("0.10")


def test_truncate_is_a_change_and_logical_messages_are_ignored():
    message = json.dumps({"action": "M", "xid": 1, "lsn": "0/1", "prefix": "x", "content": "y"})
    _, changes = feed(begin(), message, change("T", "0/300"), commit())
    assert [c.action for c in changes] == ["T"]


def test_committed_is_the_end_of_the_last_complete_transaction_only():
    decoder, _ = feed(
        begin(nextlsn="0/500"), change("I", "0/100", {"nik": "1"}), commit(nextlsn="0/500")
    )
    assert decoder.committed == "0/500"
    decoder.feed(begin(xid=842, nextlsn="0/900"))
    decoder.feed(change("I", "0/600", {"nik": "2"}, xid=842))
    assert decoder.committed == "0/500"  # the open transaction is not acknowledged-able yet


def test_a_change_outside_a_transaction_is_refused():
    with pytest.raises(DecodeError, match="outside a transaction"):
        feed(change("I", "0/100", {"nik": "1"}))


def test_an_unknown_action_is_refused():
    with pytest.raises(DecodeError, match="unknown wal2json action 'X'"):
        feed(begin(), json.dumps({"action": "X"}))
