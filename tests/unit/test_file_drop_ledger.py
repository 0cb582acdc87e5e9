"""The file ledger: which contents and which target ids were published."""

from __future__ import annotations

from typing import Any

from opdbus.connectors.file_drop.ledger import Ledger


class Store:
    """OffsetStore's get/put over a dict, counting writes."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes: list[str] = []

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def put(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.writes.append(name)


def test_a_recorded_file_is_known_by_its_hash_and_its_ids_as_published() -> None:
    store = Store()
    ledger = Ledger(store)
    assert ledger.get("abc") is None
    ledger.record("abc", {"name": "a.csv", "done": "a.csv"}, ["2025/dinkes/IKU-1"])
    assert ledger.get("abc")["name"] == "a.csv"
    assert ledger.published("2025/dinkes/IKU-1")
    assert not ledger.published("2025/dinkes/IKU-2")
    assert Ledger(store).published("2025/dinkes/IKU-1")  # after a restart too


def test_the_file_is_written_before_its_ids_and_known_ids_are_not_written_again() -> None:
    store = Store()
    ledger = Ledger(store)
    ledger.record("a", {"name": "a.csv"}, ["2025/dinkes/IKU-1", "2026/dinkes/IKU-1"])
    assert store.writes == ["file:a", "ids:2025", "ids:2026"]
    ledger.record("b", {"name": "b.csv"}, ["2025/dinkes/IKU-1"])  # a revision: nothing new
    assert store.writes[3:] == ["file:b"]
    assert store.values["ids:2025"] == ["2025/dinkes/IKU-1"]


def test_a_redrop_is_noted_on_the_first_files_entry() -> None:
    store = Store()
    ledger = Ledger(store)
    ledger.record("a", {"name": "a.csv"}, [])
    ledger.record_redrop("a", ledger.get("a"), "copy of a.csv")
    assert [r["name"] for r in ledger.get("a")["redrops"]] == ["copy of a.csv"]
