"""How the sink cuts batches, on a clock of its own: a batch closes batch_max_wait_ms after its
first message (not after the idle wait before it) or at batch_max_events. The consumer here
keeps the contract of confluent-kafka's consume() as measured on the real broker: it returns
once it holds num_messages, or when its timeout is out."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from opdbus.sinks import batch as batch_module
from opdbus.sinks import reader as reader_module
from opdbus.sinks.batch import Assembler
from opdbus.sinks.reader import IDLE_WAIT_S, BatchReader

TOPIC = "integrated.kinerja"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Tombstone:
    """A message with no value: the assembler counts it without decoding anything."""

    def __init__(self, offset: int) -> None:
        self._offset = offset

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> None:
        return None

    def error(self) -> None:
        return None


class ArrivingMessages:
    """Messages that arrive at the given seconds after the start."""

    def __init__(self, clock: Clock, arrivals: list[float]) -> None:
        self.clock = clock
        self.pending = sorted(clock.now + at for at in arrivals)
        self.offset = 0

    def consume(self, num_messages: int, timeout: float) -> list[Tombstone]:
        deadline = self.clock.now + timeout
        ready = [at for at in self.pending if at <= deadline][:num_messages]
        if len(ready) == num_messages:  # returns as the last one it wanted arrives
            self.clock.now = max(self.clock.now, ready[-1])
        else:  # waits out its timeout
            self.clock.now = deadline
        self.pending = self.pending[len(ready) :]
        taken = [Tombstone(self.offset + i) for i in range(len(ready))]
        self.offset += len(ready)
        return taken


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    fake_time = SimpleNamespace(monotonic=clock.monotonic)
    monkeypatch.setattr(reader_module, "time", fake_time)
    monkeypatch.setattr(batch_module, "time", fake_time)
    return clock


def reader(max_events: int = 5000, max_wait_s: float = 0.1) -> BatchReader:
    assembler = Assembler(SimpleNamespace(decode=None), {TOPIC: None})
    return BatchReader(assembler, max_events, max_wait_s)


def test_a_batch_closes_its_max_wait_after_its_first_message_however_long_the_sink_was_idle(
    clock,
):
    start = clock.now
    consumer = ArrivingMessages(clock, [0.30, 0.35, 0.38, 0.45, 0.90])
    batch = reader(max_wait_s=0.1).collect(consumer, threading.Event())
    assert batch.messages == 3  # the ones before 0.30 + 0.1 s
    assert clock.now - start == pytest.approx(0.40)
    assert batch.opened - start == pytest.approx(0.30)


def test_a_batch_closes_at_its_size_without_waiting(clock):
    start = clock.now
    consumer = ArrivingMessages(clock, [0.01] * 10)
    batch = reader(max_events=4).collect(consumer, threading.Event())
    assert batch.messages == 4
    assert clock.now - start == pytest.approx(0.01)


def test_nothing_arriving_gives_an_empty_batch_after_the_idle_wait(clock):
    start = clock.now
    batch = reader().collect(ArrivingMessages(clock, [IDLE_WAIT_S + 0.2]), threading.Event())
    assert batch.messages == 0
    assert clock.now - start == pytest.approx(IDLE_WAIT_S)
