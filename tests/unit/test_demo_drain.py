"""The demo's drain wait ends at once, naming the log, when a bus process has died: it must not
report a drained pipeline (or wait out its timeout) with the processor down."""

from __future__ import annotations

import pytest

from opdbus.config import load
from opdbus.demo import wait_drained
from opdbus.stack.process import StackError


class DeadProcessor:
    def status(self) -> dict[str, dict[str, object]]:
        return {"sink": {"state": "up"}, "processor": {"state": "down"}}


def test_a_dead_bus_process_ends_the_drain_wait_with_its_log(tmp_path):
    config = load({"OPDBUS_STACK__STATE_DIR": str(tmp_path)})
    with pytest.raises(StackError) as caught:
        wait_drained(config, timeout_s=600, bus=DeadProcessor())  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("processor stopped while draining")
    assert str(tmp_path / "logs" / "processor.log") in message
