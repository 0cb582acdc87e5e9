"""Keys already published from a polled table: `c` the first time, `u` afterwards."""

from __future__ import annotations

import random

from opdbus.connectors.polling.keyset import KeySet


def test_dense_integer_keys_collapse_into_one_range_in_any_order() -> None:
    keys = KeySet()
    ids = list(range(1, 1001))
    random.Random(1).shuffle(ids)
    for i in ids:
        keys.add(i)
    assert keys.ranges == [[1, 1000]]
    assert 1 in keys and 1000 in keys and 1001 not in keys and 0 not in keys


def test_a_gap_stays_a_gap_until_filled() -> None:
    keys = KeySet()
    for i in (1, 2, 3, 7, 8, 5):
        keys.add(i)
    assert keys.ranges == [[1, 3], [5, 5], [7, 8]]
    assert 4 not in keys and 6 not in keys
    keys.add(4)
    keys.add(6)
    assert keys.ranges == [[1, 8]]


def test_adding_a_known_key_changes_nothing() -> None:
    keys = KeySet([[1, 5]])
    keys.add(3)
    assert keys.ranges == [[1, 5]]


def test_other_keys_are_kept_as_text() -> None:
    keys = KeySet()
    keys.add("2025/dinkes/IKU-01")
    assert "2025/dinkes/IKU-01" in keys and "2025/dinkes/IKU-02" not in keys
    assert True not in keys  # a boolean is not the integer 1
    keys.add(1)
    assert True not in keys


def test_key_set_survives_json_and_copies_are_independent() -> None:
    keys = KeySet()
    for key in (1, 2, 9, "a"):
        keys.add(key)
    loaded = KeySet.from_json(keys.to_json())
    assert loaded.ranges == [[1, 2], [9, 9]] and "a" in loaded
    copy = loaded.copy()
    copy.add(3)
    assert 3 in copy and 3 not in loaded
    assert KeySet.from_json(None).ranges == []
