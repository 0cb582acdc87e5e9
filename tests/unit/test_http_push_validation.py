"""Push request bodies: malformed or mis-shaped JSON is a 400, bad items a 422 listing each
bad item with its field and rule, another OPD's items a 403."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from opdbus import schemas
from opdbus.connectors.http_push.problems import Rejected
from opdbus.connectors.http_push.validation import ItemValidator, parse_body

VALIDATOR = ItemValidator(schemas.entity_versions("kinerja")[-1])


def item(**changes: Any) -> dict[str, Any]:
    row = {
        "id": "dinkes/IKU-01/2026/T3",
        "kode_opd": "dinkes",
        "kode_indikator": "IKU-01",
        "tahun": 2026,
        "jenis_periode": "TRIWULAN",
        "periode": 3,
        "realisasi": 87.5,
        "satuan": "persen",
        "dilaporkan_pada": "2026-10-05T08:00:00+07:00",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not ...}


def rejection(call, *args) -> Rejected:
    with pytest.raises(Rejected) as caught:
        call(*args)
    return caught.value


def listed(rejected: Rejected) -> list[tuple[int | None, str, str]]:
    return [(p.item, p.field, p.rule) for p in rejected.problems]


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (b'{"items": [', "body", "must be valid JSON"),
        (b"\xff\xfe", "body", "must be valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "body", "is nested too deeply"),
        (b"[]", "body", 'must be an object {"items": [...]}'),
        (b'{"items": []}', "items", "must be a non-empty list"),
        (b'{"items": {"id": "x"}}', "items", "must be a non-empty list"),
        (b'{"items": [{}], "extra": 1}', "extra", "is not a known member"),
    ],
)
def test_malformed_or_misshaped_bodies_are_a_400_naming_field_and_rule(body, field, rule):
    rejected = rejection(parse_body, body)
    assert rejected.status == 400
    assert rejected.problems[0].field == field
    assert rule in rejected.problems[0].rule


def test_items_that_are_not_objects_are_each_listed_by_index():
    rejected = rejection(parse_body, json.dumps({"items": [item(), 5, "x", item()]}).encode())
    assert rejected.status == 400
    assert [(p.item, p.field) for p in rejected.problems] == [(1, "items"), (2, "items")]


def test_valid_items_become_typed_records():
    records = VALIDATOR.records(parse_body(json.dumps({"items": [item()]}).encode()), "dinkes")
    assert records[0]["tahun"] == 2026
    # epoch milliseconds, as the publisher writes it (connectors/records.py)
    assert (
        records[0]["dilaporkan_pada"]
        == dt.datetime(2026, 10, 5, 1, tzinfo=dt.UTC).timestamp() * 1000
    )


def test_422_lists_every_bad_item_with_its_field_and_rule_and_skips_good_ones():
    items = [
        item(),
        item(realisasi="tinggi"),
        item(kode_indikator=...),
        item(),
        item(jenis_periode="MINGGU"),
        item(dilaporkan_pada="kemarin"),
        item(realisai=1.0),
    ]
    rejected = rejection(VALIDATOR.records, items, "dinkes")
    assert rejected.status == 422
    assert listed(rejected) == [
        (1, "realisasi", "must be a number"),
        (2, "kode_indikator", "is required"),
        (4, "jenis_periode", "must be one of BULAN, TRIWULAN, SEMESTER, TAHUN"),
        (5, "dilaporkan_pada", "must be an ISO-8601 timestamp"),
        (6, "realisai", "is not a field of kinerja"),
    ]


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"tahun": 2**31}, "tahun", "must be between -2147483648 and 2147483647"),
        ({"periode": 13, "jenis_periode": "BULAN"}, "periode", "must be 1-12 for BULAN"),
        ({"periode": 5}, "periode", "must be 1-4 for TRIWULAN"),
        ({"periode": 0, "jenis_periode": "TAHUN"}, "periode", "must be 1-1 for TAHUN"),
        ({"realisasi": float("nan")}, "realisasi", "must be a finite number"),
        ({"tahun": True}, "tahun", "must be a whole number"),
        ({"kode_opd": " "}, "kode_opd", "is required"),
    ],
)
def test_values_the_schema_cannot_carry_or_its_doc_forbids_are_a_422(changes, field, rule):
    rejected = rejection(VALIDATOR.records, [item(**changes)], "dinkes")
    assert rejected.status == 422
    assert listed(rejected) == [(0, field, rule)]


def test_items_for_another_opd_are_a_403_that_wins_over_422():
    items = [item(), item(kode_opd="bkad"), item(realisasi="x"), item(kode_opd=7)]
    rejected = rejection(VALIDATOR.records, items, "dinkes")
    assert rejected.status == 403
    assert [(p.item, p.field) for p in rejected.problems] == [(1, "kode_opd"), (3, "kode_opd")]
    assert "dinkes" in rejected.problems[0].rule


def test_rejection_body_names_item_field_and_rule():
    rejected = rejection(VALIDATOR.records, [item(periode="tiga")], "dinkes")
    body = rejected.body("req-1")
    assert body["request_id"] == "req-1"
    assert body["errors"] == [{"item": 0, "field": "periode", "rule": "must be a whole number"}]
