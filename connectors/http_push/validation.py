"""A push request's body to entity records, or a refusal listing every bad item.

Pure: no I/O, so every rule is unit-tested. Each item is checked completely before anything
is published; an item is reported with its first broken rule (schema order), and every bad
item of the batch is listed, so a client can fix the whole batch in one round.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opdbus.connectors.records import RecordBuilder, RecordError

from .problems import Problem, Rejected

# Avro int/long must fit, or the encoder would fail after the batch was accepted.
_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# kinerja's doc: periode is 1-12 for BULAN, 1-4 for TRIWULAN, 1-2 for SEMESTER, 1 for TAHUN.
PERIODS = {"BULAN": 12, "TRIWULAN": 4, "SEMESTER": 2, "TAHUN": 1}


def parse_body(body: bytes) -> list[Mapping[str, Any]]:
    """The items of `{"items": [{...}, ...]}`; 400 if the JSON or its shape is wrong."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(
            400, "malformed JSON", [Problem("body", f"must be valid JSON: {exc}")]
        ) from None
    except RecursionError:
        raise Rejected(400, "malformed JSON", [Problem("body", "is nested too deeply")]) from None
    if not isinstance(document, dict):
        raise Rejected(400, "bad shape", [Problem("body", 'must be an object {"items": [...]}')])
    unknown = sorted(set(document) - {"items"})
    if unknown:
        rule = 'is not a known member; the body is {"items": [...]}'
        raise Rejected(400, "bad shape", [Problem(name, rule) for name in unknown])
    items = document.get("items")
    if not isinstance(items, list) or not items:
        raise Rejected(400, "bad shape", [Problem("items", "must be a non-empty list")])
    not_objects = [
        Problem("items", "must be a JSON object", item=i)
        for i, item in enumerate(items)
        if not isinstance(item, dict)
    ]
    if not_objects:
        raise Rejected(400, "bad shape", not_objects)
    return items


def _schema_type(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        avro_type = branches[0] if len(branches) == 1 else None
    if isinstance(avro_type, dict) and "logicalType" not in avro_type:
        return avro_type.get("type")
    return avro_type


class ItemValidator:
    """Checks items of one entity for the OPD that owns the token."""

    def __init__(self, entity_record: Mapping[str, Any]) -> None:
        self.entity = entity_record["name"].lower()
        self.builder = RecordBuilder(entity_record)
        self._ranged = {
            f["name"]: _RANGES[kind]
            for f in entity_record["fields"]
            if isinstance(kind := _schema_type(f["type"]), str) and kind in _RANGES
        }

    def check(self, row: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Problem | None]:
        """One item: its record, or the first rule it breaks."""
        unknown = sorted(set(row) - self.builder.field_names)
        if unknown:
            return None, Problem(unknown[0], f"is not a field of {self.entity}")
        try:
            record = self.builder.build(row)
        except RecordError as exc:
            return None, Problem(exc.field, exc.rule)
        for name, (low, high) in self._ranged.items():
            value = record.get(name)
            if value is not None and not low <= value <= high:
                return None, Problem(name, f"must be between {low} and {high}")
        problem = _period_problem(record)
        return (None, problem) if problem else (record, None)

    def records(self, items: list[Mapping[str, Any]], opd: str) -> list[dict[str, Any]]:
        """Every item as a record, or Rejected: 403 if an item reports for another OPD (the
        caller's authority comes first), else 422 listing each bad item."""
        foreign = [
            Problem("kode_opd", f"must be the token's OPD {opd!r}", item=i)
            for i, item in enumerate(items)
            if _claims_other_opd(item.get("kode_opd"), opd)
        ]
        if foreign:
            raise Rejected(403, "items for another OPD", foreign)
        built: list[dict[str, Any]] = []
        problems: list[Problem] = []
        for i, item in enumerate(items):
            record, problem = self.check(item)
            if problem is not None:
                problems.append(Problem(problem.field, problem.rule, item=i))
            elif record is not None:
                built.append(record)
        if problems:
            raise Rejected(422, f"{len(problems)} of {len(items)} items invalid", problems)
        return built


def _claims_other_opd(value: Any, opd: str) -> bool:
    # A missing or blank kode_opd is a 422 ("is required"), not someone else's report.
    blank = value is None or (isinstance(value, str) and not value.strip())
    return not blank and value != opd


def _period_problem(record: Mapping[str, Any]) -> Problem | None:
    periods = PERIODS.get(record.get("jenis_periode") or "")
    periode = record.get("periode")
    if periods and periode is not None and not 1 <= periode <= periods:
        return Problem("periode", f"must be 1-{periods} for {record['jenis_periode']}")
    return None
