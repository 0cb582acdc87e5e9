"""The shared envelope: deterministic event ids and the op/row rules."""

from __future__ import annotations

import pytest

from opdbus.envelope import Source, event_id, make_event


def source(position: str = "0/1A2B3C4") -> Source:
    return Source("dpmptsp", "perizinan", "perizinan", "permohonan", position, 1793521800000)


def test_rereading_the_same_change_gives_the_same_event_id():
    first = make_event("u", source(), before={"id": 1}, after={"id": 1}, now_ms=1)
    again = make_event("u", source(), before={"id": 1}, after={"id": 1}, now_ms=999)
    assert first["event_id"] == again["event_id"]


def test_different_positions_or_tables_give_different_event_ids():
    assert event_id(source("0/1")) != event_id(source("0/2"))
    other_table = Source("dpmptsp", "perizinan", "perizinan", "riwayat_status", "0/1", 0)
    assert event_id(source("0/1")) != event_id(other_table)


def test_create_without_a_row_is_refused():
    with pytest.raises(ValueError, match="op 'c' needs the row after the change"):
        make_event("c", source())


def test_delete_without_the_old_row_is_refused():
    with pytest.raises(ValueError, match="op 'd' needs the row before the delete"):
        make_event("d", source())
