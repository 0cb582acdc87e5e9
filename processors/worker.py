"""A processor worker: one member of the processor's consumer group, reading every input topic
in batches (docs/decisions/0011-processor-batches.md says why not faust's per-event agents).

Per batch: each message goes through its step (processors/steps.py), then the producer is
flushed, and only if every send was acknowledged are the state changes written (one RocksDB
WriteBatch per partition, with the population offset they reflect) and the offsets committed.
A crash anywhere in between re-reads the batch: outputs are duplicated with their event ids,
never lost, and the sink applies each event once.

Co-partitioning: the range assignor gives a member the same partition numbers of every topic
it reads when the partition counts are equal, so partition p of the population topic and of
the re-keyed applications always land on the same worker, beside state p. A worker that holds
every partition skips the re-key hop (docs/decisions/0012-direct-applications.md).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from opdbus.config import Config, ConfigError
from opdbus.kafka import ensure_topics, make_admin, make_consumer, topic_spec
from opdbus.metrics import WAITING
from opdbus.processors import restore
from opdbus.processors.emit import Emitter
from opdbus.processors.state import PartitionState, rocksdb_options, worker_state_dir
from opdbus.processors.steps import Steps

log = logging.getLogger("opdbus.process")
RESTORE_PROGRESS_EVERY = 100_000  # a log line per this many events read again


class NotOwned(RuntimeError):
    """An event of a partition whose state this worker does not hold (never expected)."""


class Worker:
    def __init__(self, config: Config, worker: int, stop: threading.Event) -> None:
        conf = config.section("processors")
        self.config = config
        self.stop = stop
        self.partitions = int(conf["partitions"])
        self.batch_max = int(conf["batch_max"])
        self.batch_wait_s = float(conf["batch_wait_ms"]) / 1000
        self.flush_timeout_s = float(conf["flush_timeout_s"])
        self.release_check_s = float(conf["release_check_s"])
        self.rekey_ahead_max = int(conf["rekey_ahead_max"])
        self.rekey_paused: list[TopicPartition] = []
        # Applications take the re-key hop unless this worker holds every partition and has
        # read back everything re-keyed before (_choose_route); draining: waiting for that.
        self.direct = False
        self.draining = False
        self.datadir = worker_state_dir(config, worker)
        self.options = rocksdb_options(conf["rocksdb"])
        self.compact_after = int(conf["rocksdb"]["compact_after_restoring"])
        self.citizens_in_memory = bool(conf["rocksdb"]["citizens_in_memory"])
        self.out = Emitter(config)
        self.steps = Steps(config, self.out)
        self.population = self.steps.population["input"]
        self.states: dict[int, PartitionState] = {}
        self.consumer: Consumer = make_consumer(
            config,
            conf["app_id"],
            **{
                **conf["consumer"],
                "enable.auto.commit": False,
                "partition.assignment.strategy": "range",
            },
        )
        self.steps_by_topic: dict[str, Callable[[Message], None]] = {
            self.population: lambda m: self.steps.penduduk(m, self._state(m)),
            self.steps.by_nik: lambda m: self.steps.perizinan(m, self._state(m)),
            self.steps.permohonan: self._rekey,
            **dict.fromkeys(self.steps.other_routes, self.steps.lainnya),
        }

    def ensure_internal_topics(self, timeout_s: float = 30) -> None:
        """Create the worker's topics and wait until the broker lists them, so the first
        assignment already includes them; refuse a population topic whose partition count
        is not processors.partitions (re-keying would aim at the wrong partitions)."""
        admin = make_admin(self.config)
        internal = [self.steps.by_nik, self.steps.changelog]
        ensure_topics(
            admin,
            [
                topic_spec(self.steps.by_nik, self.partitions),
                topic_spec(self.steps.changelog, self.partitions, compacted=True),
            ],
        )
        deadline = time.monotonic() + timeout_s
        while True:
            listed = admin.list_topics(timeout=10).topics
            counts = {
                name: len(listed[name].partitions)
                for name in [*internal, self.population]
                if name in listed and listed[name].error is None
            }
            if len(counts) == len(internal) + 1:
                break
            if time.monotonic() > deadline:
                missing = sorted({*internal, self.population} - set(counts))
                raise ConfigError(f"topics {missing} do not exist (run `opdbus init`)")
            time.sleep(0.2)
        if counts[self.population] != self.partitions:
            raise ConfigError(
                f"{self.population} has {counts[self.population]} partitions but "
                f"processors.partitions is {self.partitions}: they must be equal"
            )

    # -- assignment -------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, assigned: list[TopicPartition]) -> None:
        population = {tp.partition for tp in assigned if tp.topic == self.population}
        by_nik = {tp.partition for tp in assigned if tp.topic == self.steps.by_nik}
        if by_nik - population:  # events without their partition's state: lookups would miss
            raise RuntimeError(
                f"re-keyed partitions {sorted(by_nik)} came without population partitions "
                f"{sorted(by_nik - population)}: the topics must have equal partition counts"
            )
        started = time.monotonic()
        for partition in sorted(population):
            path = self.datadir / f"partition-{partition}"
            self.states[partition] = PartitionState(path, self.options, self.citizens_in_memory)
        caught_up = self._catch_up_population(consumer, sorted(population))
        waiting = self._restore_waiting(sorted(population))
        log.info(
            "state restored for partitions %s (%d population events read again, %d NIKs waiting) "
            "in %.1fs",
            sorted(population),
            caught_up,
            waiting,
            time.monotonic() - started,
        )
        if self._holds_every_partition() and self._rekeyed_read_back():
            self._skip_hop()  # nothing to wait for: the first batch already skips the hop
        log.info("ready: partitions %s", sorted(population))

    def _catch_up_population(self, consumer: Consumer, partitions: list[int]) -> int:
        """Apply, without sending, the population events the group processed but this state
        has not seen (a new worker directory, or one that was behind); compact a partition
        that read many (docs/decisions/0014-processor-state-layout.md)."""
        committed = consumer.committed(
            [TopicPartition(self.population, p) for p in partitions], timeout=30
        )
        seen = {p: self.states[p].offset(self.population) for p in partitions}
        ranges = {
            tp.partition: (seen[tp.partition], tp.offset)
            for tp in committed
            if tp.offset >= 0 and seen[tp.partition] < tp.offset
        }
        read = 0
        total = sum(target - start for start, target in ranges.values())
        if total:
            log.info("restoring the population state: up to %d events to read again", total)
        for msg in restore.read(self.config, self.population, ranges):
            state = self.states[msg.partition()]
            self.steps.restore_penduduk(msg, state)
            read += 1
            if len(state.pending) >= self.batch_max:
                state.write()
            if read % RESTORE_PROGRESS_EVERY == 0:
                log.info("restoring the population state: %d of up to %d read", read, total)
        for partition, (_, target) in ranges.items():
            self.states[partition].set_offset(self.population, target)
            self.states[partition].write()
        bulk = [p for p, (start, target) in ranges.items() if target - start >= self.compact_after]
        if bulk:
            started = time.monotonic()
            for partition in bulk:
                self.states[partition].compact()
            log.info("state compacted for partitions %s in %.1fs", bulk, time.monotonic() - started)
        return read

    def _restore_waiting(self, partitions: list[int]) -> int:
        """The waiting events are whatever the changelog says last, for every NIK."""
        for partition in partitions:
            self.states[partition].clear_waiting()
        for msg in restore.read(
            self.config, self.steps.changelog, dict.fromkeys(partitions, (0, None))
        ):
            items = None if msg.value() is None else json.loads(msg.value())
            self.states[msg.partition()].set_waiting(msg.key().decode(), items)
        for partition in partitions:
            self.states[partition].write()
        return sum(len(self.states[p].waiting_niks) for p in partitions)

    def _on_revoke(self, consumer: Consumer, revoked: list[TopicPartition]) -> None:
        # Batches complete before the next consume (where this runs): nothing is in flight.
        # What was re-keyed into partitions now leaving would never be read back here.
        self.steps.rekeyed.clear()
        self.rekey_paused = []
        if self.direct:
            log.info("partitions revoked: applications take the re-key hop again")
        self._route(direct=False)
        self.draining = False
        for tp in revoked:
            state = self.states.pop(tp.partition, None) if tp.topic == self.population else None
            if state is not None:
                state.close()

    # -- batches ----------------------------------------------------------------------------

    def _state(self, msg: Message) -> PartitionState:
        state = self.states.get(msg.partition())
        if state is None:
            raise NotOwned(f"no state for {msg.topic()}[{msg.partition()}] on this worker")
        return state

    def _process(self, msg: Message) -> None:
        try:
            self.steps_by_topic[msg.topic()](msg)
        except NotOwned:
            raise
        except Exception as exc:  # a poison message is parked, the stream goes on
            log.exception("event %s[%d]@%d failed", msg.topic(), msg.partition(), msg.offset())
            self.out.dead_letter(msg, exc, "process")

    def _complete(self, positions: dict[tuple[str, int], int]) -> None:
        """Outputs acknowledged, then state, then offsets: the order that loses nothing."""
        self.out.flush(self.flush_timeout_s)
        for (topic, partition), offset in positions.items():
            if topic == self.population:
                self.states[partition].set_offset(topic, offset)
        for state in self.states.values():
            state.write()
        if not positions:
            return
        try:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()],
                asynchronous=False,
            )
        except KafkaException as exc:  # a rebalance: the next owner reads the batch again
            log.warning("offsets not committed (%s); the batch will be read again", exc)

    def _rekey(self, msg: Message) -> None:
        self.steps.rekey(msg, self.states)

    def _take(self, msg: Message) -> None:
        self.steps.direct(msg, self.states)

    def _route(self, direct: bool) -> None:
        self.direct = direct
        self.steps_by_topic[self.steps.permohonan] = self._take if direct else self._rekey

    def _choose_route(self) -> None:
        """A worker that holds every partition (the group's only member) takes applications
        straight from their topic: the hop would only send them to itself. It first stops
        reading applications until everything re-keyed before (by it or by a member that has
        left) has been read back, so that each application's changes stay in order."""
        if self.direct or not self._holds_every_partition():
            return
        applications = [
            tp for tp in self.consumer.assignment() if tp.topic == self.steps.permohonan
        ]
        if not self.draining:
            self.consumer.resume(self.rekey_paused)
            self.rekey_paused = []
            self.consumer.pause(applications)
            self.draining = True
        if self._rekeyed_read_back():
            self.consumer.resume(applications)
            self.draining = False
            self._skip_hop()

    def _skip_hop(self) -> None:
        self._route(direct=True)
        log.info(
            "this worker holds every partition: applications are taken straight from %s",
            self.steps.permohonan,
        )

    def _holds_every_partition(self) -> bool:
        return set(self.states) == set(range(self.partitions))

    def _rekeyed_read_back(self) -> bool:
        tps = [TopicPartition(self.steps.by_nik, p) for p in range(self.partitions)]
        read = {tp.partition: tp.offset for tp in self.consumer.position(tps)}
        for tp in self.consumer.committed(tps, timeout=10):
            read[tp.partition] = max(read[tp.partition], tp.offset)
        for tp in tps:
            low, high = self.consumer.get_watermark_offsets(tp, timeout=10)
            if high > low and read[tp.partition] < high:
                return False
        return True

    def _population_caught_up(self, positions: dict[tuple[str, int], int]) -> set[int]:
        """Partitions where every population event the broker holds has been read (this batch
        included), by the end offsets the last fetches reported."""
        caught_up = set()
        for partition, state in self.states.items():
            tp = TopicPartition(self.population, partition)
            read = positions.get((self.population, partition), state.offset(self.population))
            _, end = self.consumer.get_watermark_offsets(tp, cached=True)
            if end >= 0 and read >= end:
                caught_up.add(partition)
        return caught_up

    def _pace_rekeying(self) -> None:
        """Re-keying is cheap next to enrichment and would run far ahead through a backlog:
        pause it while many re-keyed events wait to be read back, resume at half."""
        ahead = len(self.steps.rekeyed)
        if not self.rekey_paused and ahead > self.rekey_ahead_max:
            self.rekey_paused = [
                tp for tp in self.consumer.assignment() if tp.topic == self.steps.permohonan
            ]
            self.consumer.pause(self.rekey_paused)
        elif self.rekey_paused and ahead <= self.rekey_ahead_max // 2:
            self.consumer.resume(self.rekey_paused)
            self.rekey_paused = []

    def run(self) -> None:
        self.ensure_internal_topics()
        self.consumer.subscribe(
            list(self.steps_by_topic),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        next_release = time.monotonic() + self.release_check_s
        warned: set[str] = set()
        try:
            while not self.stop.is_set():
                batch = self.consumer.consume(self.batch_max, timeout=self.batch_wait_s)
                positions: dict[tuple[str, int], int] = {}
                for msg in batch:
                    error = msg.error()
                    if error is not None:
                        if error.fatal():
                            raise KafkaException(error)
                        if str(error) not in warned:  # e.g. an input topic not created yet
                            warned.add(str(error))
                            log.warning("consumer: %s", error)
                        continue
                    self._process(msg)
                    positions[(msg.topic(), msg.partition())] = msg.offset() + 1
                if time.monotonic() >= next_release:
                    caught_up = self._population_caught_up(positions)
                    WAITING.set(self.steps.release_expired(self.states, caught_up))
                    next_release = time.monotonic() + self.release_check_s
                if positions or any(state.pending for state in self.states.values()):
                    self._complete(positions)
                self._choose_route()
                if not (self.direct or self.draining):
                    self._pace_rekeying()
        finally:
            self.consumer.close()
            for state in self.states.values():
                state.close()
            self.states.clear()
