"""Row changes to envelopes: ops, key changes, tombstones and dead letters, without Kafka."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest

from opdbus import schemas
from opdbus.connectors.cdc.emit import Emitter
from opdbus.connectors.cdc.routes import Route
from opdbus.connectors.cdc.wal2json import Change
from opdbus.envelope import Source, make_event

ROW = {
    "nik": "6171015203900001",
    "no_kk": "6171010101200001",
    "nama": "Siti Aminah",
    "tanggal_lahir": "1990-03-12",
    "jenis_kelamin": "P",
    "kode_kelurahan": "61.71.01.1002",
    "status": "HIDUP",
    "updated_at": "2026-11-28 03:54:18.738723+00",
}
POSITION = "00000000/00000200:00000000/00000100:0"


class FakePublisher:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...] | tuple[Any, ...]] = []

    def publish(self, topic: str, key: str, event: dict[str, Any]) -> None:
        self.calls.append(("publish", topic, key, event))

    def tombstone(self, topic: str, key: str) -> None:
        self.calls.append(("tombstone", topic, key))

    def dead_letter(self, key: str, payload: Any, error: Exception, context: dict) -> None:
        self.calls.append(("dead_letter", key, payload, error, context))

    def encoder(self, topic: str, schema: dict | None = None) -> None:
        self.calls.append(("encoder", topic, schema))

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]


def emitter(compacted: bool = True) -> tuple[Emitter, FakePublisher]:
    route = Route(
        "public",
        "penduduk",
        "opd.disdukcapil.penduduk",
        ["nik"],
        compacted,
        "penduduk",
        schemas.entity_versions("penduduk")[-1],
    )
    publisher = FakePublisher()
    types = {**{c: "text" for c in ROW}, "email": "text"}
    made = Emitter(
        publisher,  # type: ignore[arg-type]
        "disdukcapil",
        "siak",
        "siak",
        {("public", "penduduk"): route},
        lambda r: types,
    )
    return made, publisher


def change(action: str, after=None, before=None, position: str = POSITION) -> Change:
    return Change(
        action, "public", "penduduk", "0/100", position, 841, 1795924458739, after, before
    )


def encode(event: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schemas.current("penduduk")), event)
    return out.getvalue()


def test_insert_is_a_create_with_make_events_shape_and_bytes():
    made, publisher = emitter()
    made.change(change("I", after=ROW))
    [(kind, topic, key, event)] = publisher.calls
    assert (kind, topic, key) == ("publish", "opd.disdukcapil.penduduk", ROW["nik"])
    source = Source("disdukcapil", "siak", "siak", "penduduk", POSITION, 1795924458739, "841")
    after = made.routes["public", "penduduk"].builder.build(ROW)
    expected = make_event("c", source, after=after, now_ms=event["ts_ms"])
    assert encode(event) == encode(expected)
    assert event["event_id"] == expected["event_id"]


def test_update_carries_before_and_after():
    made, publisher = emitter()
    made.change(change("U", after={**ROW, "nama": "Baru"}, before=ROW))
    [(_, _, _, event)] = publisher.calls
    assert event["op"] == "u"
    assert event["before"]["nama"] == "Siti Aminah" and event["after"]["nama"] == "Baru"


def test_key_change_is_a_delete_and_tombstone_of_the_old_key_then_a_create_of_the_new():
    made, publisher = emitter()
    new = {**ROW, "nik": "6171015203900002"}
    made.change(change("U", after=new, before=ROW))
    assert publisher.kinds() == ["publish", "tombstone", "publish"]
    delete, tombstone, create = publisher.calls
    assert delete[2] == ROW["nik"] and delete[3]["op"] == "d"
    assert delete[3]["before"]["nik"] == ROW["nik"] and delete[3]["after"] is None
    assert tombstone[2] == ROW["nik"]
    assert create[2] == new["nik"] and create[3]["op"] == "c" and create[3]["before"] is None
    assert delete[3]["source"]["position"] == POSITION
    assert create[3]["source"]["position"] == POSITION[:-1] + "1"
    assert delete[3]["event_id"] != create[3]["event_id"]


def test_delete_is_followed_by_a_tombstone_on_a_compacted_topic_only():
    made, publisher = emitter(compacted=True)
    made.change(change("D", before=ROW))
    assert publisher.kinds() == ["publish", "tombstone"]
    assert publisher.calls[0][3]["op"] == "d"
    made, publisher = emitter(compacted=False)
    made.change(change("D", before=ROW))
    assert publisher.kinds() == ["publish"]


def test_row_breaking_the_schema_is_dead_lettered_with_its_context():
    made, publisher = emitter()
    made.change(change("I", after={**ROW, "nama": None}))
    [(kind, key, payload, error, context)] = publisher.calls
    assert (kind, key) == ("dead_letter", ROW["nik"])
    assert payload["nama"] is None and error.field == "nama"
    assert context == {
        "database": "siak",
        "table": "public.penduduk",
        "op": "c",
        "position": POSITION,
        "lsn": "0/100",
        "tx_id": "841",
    }
    assert made.dead_letters == 1 and made.events == 0


def test_old_row_breaking_the_schema_gives_an_unknown_before_not_a_dead_letter():
    made, publisher = emitter()
    made.change(change("U", after=ROW, before={**ROW, "nama": None}))
    [(kind, _, _, event)] = publisher.calls
    assert kind == "publish" and event["op"] == "u" and event["before"] is None


def test_delete_of_a_row_breaking_the_schema_is_dead_lettered_and_still_tombstoned():
    made, publisher = emitter()
    made.change(change("D", before={**ROW, "status": "HILANG"}))
    assert publisher.kinds() == ["dead_letter", "tombstone"]
    assert publisher.calls[0][3].field == "status"


def test_truncate_is_dead_lettered_not_turned_into_deletes():
    made, publisher = emitter()
    made.change(change("T"))
    [(kind, key, payload, error, context)] = publisher.calls
    assert kind == "dead_letter" and key == "public.penduduk"
    assert payload["action"] == "TRUNCATE" and type(error).__name__ == "TruncateNotPropagated"
    assert context["op"] == "t"


def test_new_column_widens_the_schema_once_and_its_value_is_published():
    made, publisher = emitter()
    made.change(change("I", after={**ROW, "email": "siti@example.id"}))
    made.change(change("I", after={**ROW, "email": None}, position=POSITION[:-1] + "1"))
    assert publisher.kinds() == ["encoder", "publish", "publish"]
    registered = publisher.calls[0][2]
    assert registered["name"] == "PendudukEnvelope"
    assert publisher.calls[1][3]["after"]["email"] == "siti@example.id"
    assert publisher.calls[2][3]["after"]["email"] is None


def test_column_the_table_had_from_the_start_is_ignored_not_widened():
    made, publisher = emitter()
    route = made.routes["public", "penduduk"]
    made.routes["public", "penduduk"] = Route(
        route.schema, route.name, route.topic, route.key, True, route.entity, route.record,
        baseline_extras=frozenset({"internal_flag"}),
    )  # fmt: skip
    made.change(change("I", after={**ROW, "internal_flag": "x"}))
    assert publisher.kinds() == ["publish"]
    assert "internal_flag" not in publisher.calls[0][3]["after"]


def test_snapshot_row_is_a_read_event_positioned_at_the_slot_point():
    made, publisher = emitter()
    made.snapshot_row(made.routes["public", "penduduk"], dict(ROW), "0/2F41000", 1795924458000)
    [(_, _, key, event)] = publisher.calls
    assert event["op"] == "r" and event["source"]["snapshot"] is True
    assert event["source"]["tx_id"] is None
    assert event["source"]["position"] == f"00000000/02F41000:r:{key}"


@pytest.mark.parametrize("action", ["I", "U", "D"])
def test_tables_outside_the_configuration_are_skipped(action):
    made, publisher = emitter()
    other = Change(action, "public", "lain", "0/1", POSITION, 1, 0, ROW, ROW)
    made.change(other)
    assert publisher.calls == []


def test_delete_without_an_old_row_is_dead_lettered_not_a_crash():
    made, publisher = emitter()
    made.change(change("D"))
    [(kind, key, _, error, context)] = publisher.calls
    assert (kind, key, context["op"]) == ("dead_letter", "public.penduduk", "d")
    assert "REPLICA IDENTITY FULL" in str(error)
