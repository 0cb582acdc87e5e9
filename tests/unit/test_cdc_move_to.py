"""Where the slot moves after an acknowledged batch (connectors/cdc/connector.py move_to)."""

from __future__ import annotations

from opdbus.connectors.cdc.connector import Read, move_to
from opdbus.connectors.cdc.lsn import parse, show
from opdbus.connectors.cdc.restart_points import LAG_BYTES

CONFIRMED = "0/1000000"
FAR = show(parse(CONFIRMED) + LAG_BYTES)  # a neighbour's WAL worth skipping
NEAR = show(parse(CONFIRMED) + 4096)


def test_full_batch_moves_only_to_its_last_commit():
    read = Read(rows=5000, committed="0/1000800", whole=False)
    assert move_to(read, FAR, CONFIRMED, heartbeat_due=True) == "0/1000800"


def test_batch_cut_by_a_stop_moves_only_to_its_last_commit():
    read = Read(rows=12, committed="0/1000800", whole=False)
    assert move_to(read, FAR, CONFIRMED, heartbeat_due=False) == "0/1000800"


def test_whole_batch_moves_on_to_the_target():
    read = Read(rows=12, committed="0/1000800", whole=True)
    assert move_to(read, NEAR, CONFIRMED, heartbeat_due=False) == NEAR


def test_commit_ending_past_the_target_is_where_the_slot_moves():
    # The last commit record straddles the target: it was read whole.
    read = Read(rows=12, committed=show(parse(NEAR) + 40), whole=True)
    assert move_to(read, NEAR, CONFIRMED, heartbeat_due=False) == show(parse(NEAR) + 40)


def test_idle_slot_stays_while_little_foreign_wal_lies_ahead():
    assert move_to(Read(0, None, whole=True), NEAR, CONFIRMED, heartbeat_due=False) is None


def test_idle_slot_moves_past_a_mebibyte_of_foreign_wal():
    assert move_to(Read(0, None, whole=True), FAR, CONFIRMED, heartbeat_due=False) == FAR


def test_idle_slot_moves_at_its_heartbeat():
    assert move_to(Read(0, None, whole=True), NEAR, CONFIRMED, heartbeat_due=True) == NEAR


def test_slot_never_moves_back_or_in_place():
    assert move_to(Read(0, None, whole=True), CONFIRMED, CONFIRMED, heartbeat_due=True) is None
    read = Read(rows=3, committed="0/FFFFFF", whole=False)
    assert move_to(read, FAR, CONFIRMED, heartbeat_due=True) is None
