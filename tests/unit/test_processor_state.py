"""The worker's partition state on a real RocksDB (rocksdict): what a batch changed is seen at
once and survives only once written; waiting NIKs are known after a restart; citizens are
stored compactly and come back equal; a database in another layout is emptied for a rebuild."""

from __future__ import annotations

import json

import pytest
from rocksdict import Rdict

from opdbus.processors.state import (
    PartitionState,
    pack_citizen,
    rocksdb_options,
    unpack_citizen,
)

OPTIONS = {"block_cache_size": 1 << 20, "write_buffer_size": 1 << 20, "max_write_buffer_number": 2}
CITIZEN = {
    "tanggal_lahir": 7300,
    "jenis_kelamin": "P",
    "kode_kelurahan": "61.71.01.1002",
    "status": "HIDUP",
    "version": [1767571200000, "0/16B3F10"],
}


def open_state(path, citizens_in_memory: bool = False) -> PartitionState:
    return PartitionState(path, rocksdb_options(OPTIONS), citizens_in_memory)


@pytest.mark.parametrize("in_memory", [False, True])
def test_a_batch_sees_its_own_changes_and_only_written_ones_survive(tmp_path, in_memory):
    state = open_state(tmp_path, in_memory)
    state.set_citizen("A", CITIZEN)
    state.set_offset("topic", 7)
    assert state.citizen("A") == CITIZEN
    state.write()
    state.set_citizen("B", CITIZEN)  # never written: a crash before the flush
    state.close()
    again = open_state(tmp_path, in_memory)
    assert again.citizen("A") == CITIZEN and again.citizen("B") is None
    assert again.offset("topic") == 7 and again.offset("other") == 0


def test_citizens_kept_in_memory_are_those_on_disk_and_follow_each_write(tmp_path):
    state = open_state(tmp_path)
    state.set_citizen("A", CITIZEN)
    state.set_waiting("W", [{"value": "x", "at": 1}])
    state.write()
    state.close()
    again = open_state(tmp_path, citizens_in_memory=True)
    assert again.citizens == {b"p:A": pack_citizen(CITIZEN)}  # citizens only, not the rest
    deleted = {"deleted": True, "version": [9, "0/AB:d"]}
    again.set_citizen("A", deleted)
    assert again.citizen("A") == deleted and again.citizens[b"p:A"] == pack_citizen(CITIZEN)
    again.write()
    assert again.citizens[b"p:A"] == pack_citizen(deleted) == again.db[b"p:A"]


def test_a_citizen_and_a_deleted_one_come_back_equal_even_with_odd_positions():
    odd = {**CITIZEN, "version": [5, "snap:r:6171\x1fx:y"]}  # the separator inside a position
    deleted = {"deleted": True, "version": [9, "0/AB:d"]}
    for citizen in (CITIZEN, odd, deleted):
        assert unpack_citizen(pack_citizen(citizen)) == citizen
    assert len(pack_citizen(CITIZEN)) < len(json.dumps(CITIZEN)) / 2


def test_waiting_niks_are_known_after_a_restart_and_cleared_on_release(tmp_path):
    state = open_state(tmp_path)
    state.set_waiting("A", [{"value": "x", "at": 1}])
    state.write()
    state.close()
    again = open_state(tmp_path)
    assert again.waiting_niks == {"A"} and list(again.all_waiting()) == [
        ("A", [{"value": "x", "at": 1}])
    ]
    again.set_waiting("A", None)
    again.write()
    assert again.waiting("A") is None and again.waiting_niks == set()


def test_a_state_in_another_layout_is_emptied_so_the_topic_rebuilds_it(tmp_path):
    old = Rdict(str(tmp_path), rocksdb_options(OPTIONS))  # layout 1: JSON, no layout key
    old[b"p:A"] = json.dumps(CITIZEN).encode()
    old[b"o:topic"] = b"42"
    old.close()
    state = open_state(tmp_path)
    assert state.citizen("A") is None and state.offset("topic") == 0
    state.set_citizen("A", CITIZEN)
    state.set_offset("topic", 43)
    state.write()
    state.close()
    again = open_state(tmp_path)  # the current layout is kept
    assert again.citizen("A") == CITIZEN and again.offset("topic") == 43


def test_a_compacted_state_keeps_every_citizen_in_one_level(tmp_path):
    state = open_state(tmp_path)
    for batch in range(3):  # three flushed files (below the automatic trigger of four)
        for n in range(500):
            state.set_citizen(f"{n:04d}{batch}", {**CITIZEN, "tanggal_lahir": n})
        state.write()
        state.db.flush()
    assert state.db.property_int_value("rocksdb.num-files-at-level0") >= 2
    state.compact()
    assert state.db.property_int_value("rocksdb.num-files-at-level0") == 0
    assert state.citizen("04992") == {**CITIZEN, "tanggal_lahir": 499}
