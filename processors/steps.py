"""What happens to each input event, in data-flow order.

    opd.disdukcapil.penduduk --penduduk--> state penduduk[NIK], integrated.penduduk,
                                           and releases events waiting for that NIK
    opd.dpmptsp.permohonan --rekey--> <app>-perizinan-by-nik (keyed by the applicant's NIK,
                                      co-partitioned with the population topic)
    <app>-perizinan-by-nik --perizinan--> integrated.perizinan (enriched), or waits in
                                          menunggu[NIK] until the citizen is known or too long
    opd.dpmptsp.permohonan --direct--> the same, without the hop, while one worker holds
                                       every partition
    finance, planning, e-SAKIP topics --lainnya--> integrated.keuangan/perencanaan/kinerja

State is per partition: a lookup by NIK happens only for an event read from a topic keyed by
NIK with the population topic's partition count and partitioner (murmur2), so the citizen and
the events naming them are in the same partition, owned by the same worker.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Container
from typing import Any

from confluent_kafka import Message

from opdbus.config import Config
from opdbus.kafka import partition_of
from opdbus.processors import outputs, validate
from opdbus.processors.emit import Emitter
from opdbus.processors.enrich import citizen_state, is_newer
from opdbus.processors.state import PartitionState


def internal_topics(config: Config) -> dict[str, str]:
    """The worker's own topics: the re-keyed applications and the waiting events' changelog."""
    app_id = config.section("processors")["app_id"]
    return {"by_nik": f"{app_id}-perizinan-by-nik", "changelog": f"{app_id}-menunggu-changelog"}


class Rejected(Exception):
    """An event that cannot be processed: the stage that refused it and why."""

    def __init__(self, stage: str, error: Exception) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage, self.error = stage, error


def kept(op: str, citizen: dict[str, Any]) -> dict[str, Any]:
    """What the state keeps: a deleted citizen keeps only its version, so that a late older
    update cannot resurrect them."""
    return {"deleted": True, "version": citizen["version"]} if op == "d" else citizen


class Steps:
    def __init__(self, config: Config, out: Emitter) -> None:
        conf = config.section("processors")
        self.out = out
        self.population = conf["population"]
        # A route set to null (e.g. in an OPDBUS_CONFIG overlay) is switched off.
        self.routes: dict[str, dict[str, Any]] = {t: r for t, r in conf["routes"].items() if r}
        nik_routes = [t for t, r in self.routes.items() if r.get("consumer")]
        if len(nik_routes) != 1:
            raise ValueError(f"processors.routes: one route with a consumer, got {nik_routes}")
        self.permohonan = nik_routes[0]
        self.perizinan_output = self.routes[self.permohonan]["output"]
        consumer = self.routes[self.permohonan]["consumer"]
        self.allowed = frozenset(conf["pks"].get(consumer, ()))
        self.other_routes = [t for t in self.routes if t != self.permohonan]
        topics = internal_topics(config)
        self.by_nik, self.changelog = topics["by_nik"], topics["changelog"]
        self.unmatched_after_ms = int(float(conf["unmatched_after_s"]) * 1000)
        self.partitions = int(conf["partitions"])
        # Events re-keyed into a partition this worker owns, decoded, by their bytes: it reads
        # them back moments later and need not decode them twice. The worker pauses re-keying
        # while too many wait (Worker._pace_rekeying) and forgets them on a rebalance.
        self.rekeyed: dict[bytes, dict[str, Any]] = {}

    def _checked(self, msg: Message) -> dict[str, Any]:
        """The event's envelope; raises Rejected for bad bytes or a broken rule."""
        try:
            raw = self.out.serde.decode(msg.value())
        except Exception as exc:  # any undecodable message is rejected, never fatal
            raise Rejected("decode", exc) from exc
        violations = validate.check(self.out.entity(msg.topic()), outputs.row_of(raw))
        if violations:
            raise Rejected("validate", validate.ValidationError(violations))
        return raw

    def decoded(self, msg: Message) -> dict[str, Any] | None:
        """The event's envelope, or None after parking it (bad bytes, broken rule)."""
        try:
            return self._checked(msg)
        except Rejected as rejected:
            self.out.dead_letter(msg, rejected.error, rejected.stage)
            return None

    # -- population -------------------------------------------------------------------------

    def penduduk(self, msg: Message, state: PartitionState) -> None:
        if msg.value() is None:  # the tombstone after a delete: nothing left to do
            return
        raw = self.decoded(msg)
        if raw is None:
            return
        citizen = self._apply(raw, state)
        if citizen is None:
            self.out.count(msg.topic(), "stale")
            return
        row = outputs.row_of(raw)
        nik = row["nik"]
        pseudonym = self.out.protect.pseudonym(nik)
        record = outputs.penduduk_pseudonim(row, pseudonym, self.out.protect.key_id, citizen)
        self.out.emit(self.population["output"], pseudonym, raw, record, nik)
        if raw["op"] == "d":
            # The tombstone lets compaction forget the pseudonym.
            self.out.send(self.population["output"], pseudonym.encode(), None)
        else:
            self.release(state, msg.partition(), nik, matched=True)
        self.out.count(msg.topic(), "applied")

    def restore_penduduk(self, msg: Message, state: PartitionState) -> None:
        """Rebuild state from the population topic without sending anything: the events were
        processed (and their outputs sent) before; rejected ones were parked then."""
        if msg.value() is None:
            return
        try:
            raw = self._checked(msg)
        except Rejected:  # parked when it was first processed
            return
        self._apply(raw, state)

    def _apply(self, raw: dict[str, Any], state: PartitionState) -> dict[str, Any] | None:
        """Store the citizen's new state if the change is newer than what the state holds (an
        older one never overwrites); returns it, or None for a stale change."""
        row = outputs.row_of(raw)
        citizen = citizen_state(row, raw["source"])
        if not is_newer(citizen["version"], state.citizen(row["nik"])):
            return None
        state.set_citizen(row["nik"], kept(raw["op"], citizen))
        return citizen

    # -- licence applications ---------------------------------------------------------------

    def rekey(self, msg: Message, owned: Container[int]) -> None:
        """Forward the original bytes keyed by the applicant's NIK (no decode/encode round trip
        that could change the record), into the partition the producer would pick for it."""
        raw = self.decoded(msg)
        if raw is None:
            return
        nik, partition = self._applicant(raw)
        self.out.send(self.by_nik, nik.encode(), msg.value(), partition=partition)
        if partition in owned:
            self.rekeyed[msg.value()] = raw

    def direct(self, msg: Message, states: dict[int, PartitionState]) -> None:
        """An application taken straight from its topic, when this worker holds every partition
        (the re-key hop would only send it to itself; Worker._choose_route decides)."""
        raw = self.decoded(msg)
        if raw is None:
            return
        nik, partition = self._applicant(raw)
        self._perizinan(raw, msg.value(), nik, partition, states[partition])

    def _applicant(self, raw: dict[str, Any]) -> tuple[str, int]:
        """The applicant's NIK and the partition the producer would pick for it."""
        nik = outputs.row_of(raw)["nik_pemohon"]
        return nik, partition_of(nik.encode(), self.partitions)

    def perizinan(self, msg: Message, state: PartitionState) -> None:
        """An application read back from the re-keyed topic (validated when it was re-keyed)."""
        raw = self.rekeyed.pop(msg.value(), None) or self.out.serde.decode(msg.value())
        self._perizinan(raw, msg.value(), msg.key().decode(), msg.partition(), state)

    def _perizinan(
        self, raw: dict[str, Any], value: bytes, nik: str, partition: int, state: PartitionState
    ) -> None:
        waiting = state.waiting(nik)
        known = self._known(state, nik)
        if known is not None or (raw["op"] == "d" and waiting is None):
            self._emit_perizinan(raw, nik, known, 0)
            self.out.count(self.permohonan, "enriched")
            return
        # Queue behind earlier events for the same NIK, in order; a re-delivery after a crash
        # is already there.
        encoded = base64.b64encode(value).decode()
        if waiting and any(item["value"] == encoded for item in waiting):
            return
        item = {"value": encoded, "at": int(time.time() * 1000)}
        self.set_waiting(state, partition, nik, [*(waiting or []), item])
        self.out.count(self.permohonan, "waiting")

    def release(self, state: PartitionState, partition: int, nik: str, matched: bool) -> None:
        """Send what waits for nik: enriched when the citizen arrived, or unmatched once the
        oldest has waited unmatched_after_s."""
        entry = state.waiting(nik)
        if not entry:
            return
        now = int(time.time() * 1000)
        if not matched and now - entry[0]["at"] < self.unmatched_after_ms:
            return
        self.set_waiting(state, partition, nik, None)
        known = self._known(state, nik)
        for item in entry:
            raw = self.out.serde.decode(base64.b64decode(item["value"]))
            self._emit_perizinan(raw, nik, known, now - item["at"])
            self.out.count(self.permohonan, "released" if matched else "unmatched")

    def release_expired(self, states: dict[int, PartitionState], caught_up: Container[int]) -> int:
        """Release what waited too long, in the partitions whose population events have all been
        read (elsewhere the citizen may be in the part not yet read, e.g. after a restart);
        returns how many events still wait."""
        still = 0
        for partition, state in states.items():
            for nik, entry in list(state.all_waiting()):
                if partition in caught_up:
                    self.release(state, partition, nik, matched=False)
                if state.waiting(nik):
                    still += len(entry)
        return still

    def set_waiting(
        self, state: PartitionState, partition: int, nik: str, items: list[dict] | None
    ) -> None:
        state.set_waiting(nik, items)
        value = None if items is None else json.dumps(items).encode()
        self.out.send(self.changelog, nik.encode(), value, partition=partition)

    def _known(self, state: PartitionState, nik: str) -> dict[str, Any] | None:
        citizen = state.citizen(nik)
        return None if citizen is None or citizen.get("deleted") else citizen

    def _emit_perizinan(
        self, raw: dict[str, Any], nik: str, known: dict[str, Any] | None, waited_ms: int
    ) -> None:
        row = outputs.row_of(raw)
        record = outputs.perizinan(row, self.out.protect, known, self.allowed, waited_ms)
        self.out.emit(self.perizinan_output, str(record["id_permohonan"]), raw, record, nik)

    # -- everything else --------------------------------------------------------------------

    def lainnya(self, msg: Message) -> None:
        raw = self.decoded(msg)
        if raw is None:
            return
        topic = msg.topic()
        entity = self.out.entity(topic)
        row = outputs.row_of(raw)
        record = outputs.keuangan(entity, row) if entity in ("anggaran", "realisasi") else row
        key = f"{record['jenis']}:{record['id']}" if "jenis" in record else str(record["id"])
        self.out.emit(self.routes[topic]["output"], key, raw, record)
        self.out.count(topic, "passed")
