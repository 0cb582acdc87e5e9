"""CDC keys, positions, LSN text and event ids."""

from __future__ import annotations

import pytest

from opdbus.connectors.cdc import lsn
from opdbus.connectors.cdc.positions import key_text, snapshot_position, stream_position


def test_lsn_text_round_trips_and_pads_to_sort_as_text():
    assert lsn.parse("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert lsn.show(lsn.parse("16/B374D848")) == "16/B374D848"
    assert lsn.padded("0/a") == "00000000/0000000A"
    assert lsn.padded("0/A") < lsn.padded("0/10")  # unpadded, "0/A" > "0/10"


def test_lsn_without_a_slash_is_refused():
    with pytest.raises(ValueError, match="not an LSN"):
        lsn.parse("123")


def test_key_is_the_key_column_as_text_or_the_columns_joined():
    assert key_text({"id": 42, "x": "y"}, ["id"]) == "42"
    assert key_text({"tahun": 2026, "kode_opd": "1.02"}, ["tahun", "kode_opd"]) == "2026/1.02"


def test_snapshot_rows_sort_before_every_change_streamed_from_the_same_slot_point():
    point = "0/2F41000"
    row = snapshot_position(point, "6171015203900001")
    # The earliest possible streamed change: its commit ends after the point, its own LSN
    # may even be before it (a transaction that was running when the slot was created).
    first = stream_position(lsn.padded("0/2F41001"), "0/2F40000", 0)
    assert row < first
    assert row == "00000000/02F41000:r:6171015203900001"
