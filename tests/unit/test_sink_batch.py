"""Batch assembly: decode, map, keep the newest change per key, move every partition's next
offset (tombstones and dead letters included), and tell a bad message from a registry outage."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from types import SimpleNamespace

import fastavro
import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from opdbus import schemas
from opdbus.envelope import Source, make_event
from opdbus.serde import Encoder
from opdbus.sinks.batch import UNKNOWN, Assembler, Batch
from opdbus.sinks.decode import RegistryUnavailable, WireDecoder
from opdbus.sinks.rows import RowMapper
from opdbus.sinks.tables import LINEAGE, layout, record_columns

TOPIC = "integrated.perencanaan"
SCHEMA_ID, GONE_ID, OUTAGE_ID = 7, 404, 503
BASE_MS = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp() * 1000)


class Registry:
    """Knows schema 7; 404 for 404; unreachable for 503."""

    def __init__(self) -> None:
        self.envelope = schemas.current("perencanaan")

    def get_schema(self, schema_id: int):
        if schema_id == SCHEMA_ID:
            return SimpleNamespace(schema_str=json.dumps(self.envelope))
        if schema_id == GONE_ID:
            raise SchemaRegistryError(404, 40403, "Schema not found")
        raise ConnectionError("registry unreachable")


@dataclass
class Msg:
    _topic: str
    _partition: int
    _offset: int
    _value: bytes | None
    _key: bytes | None = b"k"

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self):
        return None


@pytest.fixture
def assembler() -> Assembler:
    columns = record_columns(schemas.entity_versions("perencanaan")[-1])
    table = layout("perencanaan", (*columns, *LINEAGE), ("id",))
    return Assembler(WireDecoder(Registry()), {TOPIC: RowMapper(table)})


@pytest.fixture
def encoder() -> Encoder:
    return Encoder("s", SCHEMA_ID, fastavro.parse_schema(schemas.current("perencanaan")))


def target(key: str, value: float) -> dict:
    return {
        "id": key,
        "tahun": 2026,
        "kode_opd": "dinkes",
        "kode_program": "1.02.02",
        "kode_indikator": key,
        "nama_indikator": "Cakupan imunisasi",
        "satuan": "persen",
        "target": value,
        "arah": "NAIK",
    }


def change(encoder: Encoder, key: str, value: float, position: int, op: str = "u") -> bytes:
    source = Source(
        "bappeda", "perencanaan", "drop", "t.csv", f"{position:08d}", BASE_MS + position
    )
    rec = target(key, value)
    event = make_event(op, source, before=rec) if op == "d" else make_event(op, source, after=rec)
    return encoder.encode(event)


def rows(batch: Batch) -> dict:
    """The batch's perencanaan rows as dicts, by id."""
    columns = [*record_columns(schemas.entity_versions("perencanaan")[-1]), *LINEAGE]
    return {
        key[0]: dict(zip(columns, row, strict=True))
        for key, row in batch.rows["perencanaan"].items()
    }


def test_the_newest_change_of_a_key_wins_whatever_order_it_arrives_in(assembler, encoder):
    batch = Batch()
    for offset, (value, position) in enumerate([(2.0, 20), (3.0, 30), (1.0, 10)]):
        assembler.add(batch, Msg(TOPIC, 0, offset, change(encoder, "IK1", value, position)))
    assert rows(batch)["IK1"]["target"] == 3.0
    assert batch.row_count() == 1
    assert batch.outcomes[(TOPIC, "row")] == 3


def test_the_same_position_twice_keeps_the_later_message(assembler, encoder):
    batch = Batch()
    assembler.add(batch, Msg(TOPIC, 0, 0, change(encoder, "IK1", 1.0, 10)))
    assembler.add(batch, Msg(TOPIC, 0, 1, change(encoder, "IK1", 9.0, 10)))
    assert rows(batch)["IK1"]["target"] == 9.0


def test_a_newer_delete_wins_and_an_older_one_does_not(assembler, encoder):
    batch = Batch()
    assembler.add(batch, Msg(TOPIC, 0, 0, change(encoder, "IK1", 1.0, 10)))
    assembler.add(batch, Msg(TOPIC, 0, 1, change(encoder, "IK1", 1.0, 20, op="d")))
    assembler.add(batch, Msg(TOPIC, 1, 0, change(encoder, "IK2", 1.0, 20, op="d")))
    assembler.add(batch, Msg(TOPIC, 1, 1, change(encoder, "IK2", 5.0, 30)))
    assert rows(batch)["IK1"]["dihapus"] is True
    assert rows(batch)["IK2"]["dihapus"] is False


def test_different_keys_are_all_kept(assembler, encoder):
    batch = Batch()
    for n in range(5):
        assembler.add(batch, Msg(TOPIC, n % 2, n, change(encoder, f"IK{n}", float(n), n)))
    assert sorted(rows(batch)) == [f"IK{n}" for n in range(5)]


def test_every_message_moves_its_partition_past_it(assembler, encoder):
    batch = Batch()
    assembler.add(batch, Msg(TOPIC, 0, 4, change(encoder, "IK1", 1.0, 1)))
    assembler.add(batch, Msg(TOPIC, 0, 5, None))  # tombstone
    assembler.add(batch, Msg(TOPIC, 2, 9, b"garbage"))  # dead letter
    assert batch.next_offsets == {(TOPIC, 0): 6, (TOPIC, 2): 10}
    assert batch.messages == 3
    assert batch.outcomes[(TOPIC, "tombstone")] == 1


def test_undecodable_messages_become_dead_letters_with_their_origin(assembler):
    batch = Batch()
    unknown = bytes([0]) + GONE_ID.to_bytes(4, "big") + b"\x00"
    truncated = bytes([0]) + SCHEMA_ID.to_bytes(4, "big") + b"\x02"
    for offset, value in enumerate([b"not avro", unknown, truncated]):
        assembler.add(batch, Msg(TOPIC, 1, offset, value))
    assert [(d.partition, d.offset) for d in batch.dead_letters] == [(1, 0), (1, 1), (1, 2)]
    assert [type(d.error).__name__ for d in batch.dead_letters] == [
        "WireFormatError",
        "UnknownSchemaError",
        "WireFormatError",
    ]
    assert batch.dead_letters[0].value == b"not avro"
    assert batch.row_count() == 0


def test_a_registry_outage_is_not_the_messages_fault(assembler):
    batch = Batch()
    outage = bytes([0]) + OUTAGE_ID.to_bytes(4, "big") + b"\x00"
    with pytest.raises(RegistryUnavailable):
        assembler.add(batch, Msg(TOPIC, 0, 0, outage))
    assert not batch.dead_letters


def test_a_batch_starts_each_partition_where_the_reader_stood(assembler, encoder):
    assembler.positions.update({(TOPIC, 0): 4, (TOPIC, 1): None})
    first, second = Batch(), Batch()
    assembler.add(first, Msg(TOPIC, 0, 4, change(encoder, "IK1", 1.0, 1)))
    assembler.add(first, Msg(TOPIC, 0, 5, change(encoder, "IK2", 1.0, 2)))
    assembler.add(first, Msg(TOPIC, 1, 0, change(encoder, "IK3", 1.0, 3)))
    assembler.add(second, Msg(TOPIC, 0, 8, change(encoder, "IK1", 2.0, 4)))  # a gap: compacted
    assert first.starts == {(TOPIC, 0): 4, (TOPIC, 1): None}
    assert second.starts == {(TOPIC, 0): 6}  # where the first batch left it, not 8
    assert assembler.positions == {(TOPIC, 0): 9, (TOPIC, 1): 1}


def test_a_partition_the_reader_holds_no_position_for_can_never_commit(assembler, encoder):
    batch = Batch()
    assembler.add(batch, Msg(TOPIC, 2, 0, change(encoder, "IK1", 1.0, 1)))
    assert batch.starts == {(TOPIC, 2): UNKNOWN}
