"""The shared envelope: deterministic event ids and the op/row rules."""

from __future__ import annotations

import uuid

import pytest

from opdbus.envelope import EVENT_ID_NAMESPACE, EventIds, Source, event_id, make_event


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


def test_event_ids_are_rfc4122_uuid5_of_the_source_name():
    for position in ("00000000/04F02668:00000000/04F02390:0", "6171015203900001", "é/ü"):
        expected = uuid.uuid5(
            EVENT_ID_NAMESPACE, f"dpmptsp/perizinan/perizinan/permohonan@{position}"
        )
        assert event_id(source(position)) == str(expected)
        assert EventIds("dpmptsp", "perizinan", "perizinan", "permohonan").of(position) == str(
            expected
        )
