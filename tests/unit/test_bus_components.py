"""`opdbus bus up|down|status COMPONENT...` acts on the named processes only, in data-flow
order, and refuses a name the bus does not have (saying which names it has)."""

from __future__ import annotations

import pytest

from opdbus.config import load
from opdbus.stack.bus import Bus
from opdbus.stack.process import StackError


def bus(tmp_path) -> Bus:
    return Bus(load({"OPDBUS_STACK__STATE_DIR": str(tmp_path)}))


def test_named_components_come_in_data_flow_order(tmp_path):
    chosen = bus(tmp_path).selected(["sink", "connector-siak", "processor"])
    assert [c.name for c in chosen] == ["connector-siak", "processor", "sink"]
    assert chosen[1].argv == ("process",)


def test_no_names_selects_every_component(tmp_path):
    every = [c.name for c in bus(tmp_path).selected()]
    assert every[-3:] == ["processor", "sink", "lag-collector"]
    assert "connector-esakip" in every


def test_an_unknown_component_is_refused_with_the_known_names(tmp_path):
    with pytest.raises(StackError) as caught:
        bus(tmp_path).selected(["sink", "procesor"])
    assert str(caught.value).startswith("no bus component procesor; the bus has: connector-siak")
    assert "processor" in str(caught.value)


def test_status_reports_only_the_named_components(tmp_path):
    assert list(bus(tmp_path).status(["sink"])) == ["sink"]
