"""The worker's partition state on a real RocksDB (rocksdict): what a batch changed is seen at
once and survives only once written; waiting NIKs are known after a restart."""

from __future__ import annotations

from opdbus.processors.state import PartitionState, rocksdb_options

OPTIONS = {"block_cache_size": 1 << 20, "write_buffer_size": 1 << 20, "max_write_buffer_number": 2}


def open_state(path) -> PartitionState:
    return PartitionState(path, rocksdb_options(OPTIONS))


def test_a_batch_sees_its_own_changes_and_only_written_ones_survive(tmp_path):
    state = open_state(tmp_path)
    state.set_citizen("A", {"v": 1})
    state.set_offset("topic", 7)
    assert state.citizen("A") == {"v": 1}
    state.write()
    state.set_citizen("B", {"v": 2})  # never written: a crash before the flush
    state.close()
    again = open_state(tmp_path)
    assert again.citizen("A") == {"v": 1} and again.citizen("B") is None
    assert again.offset("topic") == 7 and again.offset("other") == 0


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
