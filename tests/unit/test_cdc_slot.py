"""The slot's own checks, on a stand-in connection: wrong plugin or database, lost WAL."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from opdbus.config import ConfigError
from opdbus.connectors.cdc.slot import Slot, SlotLost


class FakeConnection:
    def __init__(self, row: tuple[Any, ...] | None, dbname: str = "siak") -> None:
        self.row = row
        self.info = SimpleNamespace(dbname=dbname)

    def execute(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        return SimpleNamespace(fetchone=lambda: self.row)


def slot(row: tuple[Any, ...] | None) -> Slot:
    return Slot(FakeConnection(row), "postgresql://x/siak", "opdbus_siak", ["public.penduduk"])  # type: ignore[arg-type]


def test_missing_slot_has_no_position():
    assert slot(None).confirmed() is None


def test_healthy_slot_gives_its_confirmed_position():
    assert slot(("wal2json", "siak", "0/2F41000", "reserved")).confirmed() == "0/2F41000"


def test_slot_that_lost_wal_is_reported_not_read():
    with pytest.raises(SlotLost, match="lost WAL it still needed"):
        slot(("wal2json", "siak", "0/2F41000", "lost")).confirmed()


@pytest.mark.parametrize(
    "row", [("pgoutput", "siak", "0/1", "reserved"), ("wal2json", "lain", "0/1", "reserved")]
)
def test_slot_of_another_plugin_or_database_is_refused(row):
    with pytest.raises(ConfigError, match="choose another slot"):
        slot(row).confirmed()
