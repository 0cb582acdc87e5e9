"""Domain rules per raw entity, on top of what the Avro schema already guarantees (types,
required fields): NIK structure, known region and OPD codes, sane periods and amounts.
Rows are Avro wire values: an amount is its decimal's unscaled two's-complement bytes.

The rules themselves live in opdbus/rules.py, shared with the connectors and the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from opdbus import rules, wire
from opdbus.rules import RuleViolation

PERIODS = {"BULAN": 12, "TRIWULAN": 4, "SEMESTER": 2, "TAHUN": 1}
MONEY_SCALE = 2  # rupiah amounts are decimal(18, 2) in every raw schema


class ValidationError(ValueError):
    """All the rules one row breaks."""

    def __init__(self, violations: list[RuleViolation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.fields = [v.field for v in violations]
        self.rules = [v.rule for v in violations]


def _nik(field: str, nik: str, jenis_kelamin: str | None = None) -> list[RuleViolation]:
    found = rules.nik_violations(nik, jenis_kelamin)
    for violation in found:
        if violation.field == "nik":
            violation.field = field
    return found


def _kelurahan(code: str) -> list[RuleViolation]:
    try:
        rules.validate_kelurahan(code)
    except RuleViolation as violation:
        return [violation]
    return []


def _opd(row: dict[str, Any]) -> list[RuleViolation]:
    try:
        rules.validate_opd(row["kode_opd"])
    except RuleViolation as violation:
        return [violation]
    return []


def _not_negative(field: str, amount: bytes) -> list[RuleViolation]:
    value = wire.unscaled(amount)
    if value >= 0:
        return []
    return [RuleViolation(field, "must not be negative", Decimal(value).scaleb(-MONEY_SCALE))]


def _penduduk(row: dict[str, Any]) -> list[RuleViolation]:
    return _nik("nik", row["nik"], row["jenis_kelamin"]) + _kelurahan(row["kode_kelurahan"])


def _permohonan(row: dict[str, Any]) -> list[RuleViolation]:
    return _nik("nik_pemohon", row["nik_pemohon"]) + _kelurahan(row["kode_kelurahan"])


def _anggaran(row: dict[str, Any]) -> list[RuleViolation]:
    found = _opd(row) + _not_negative("pagu", row["pagu"])
    if len(row["rencana_kas"]) != 12:
        found.append(
            RuleViolation("rencana_kas", "must have 12 monthly amounts", row["rencana_kas"])
        )
    return found


def _realisasi(row: dict[str, Any]) -> list[RuleViolation]:
    return _opd(row) + _not_negative("nilai", row["nilai"])


def _kinerja(row: dict[str, Any]) -> list[RuleViolation]:
    found = _opd(row)
    last = PERIODS[row["jenis_periode"]]
    if not 1 <= row["periode"] <= last:
        rule = f"must be 1-{last} for {row['jenis_periode']}"
        found.append(RuleViolation("periode", rule, row["periode"]))
    return found


CHECKS: dict[str, Callable[[dict[str, Any]], list[RuleViolation]]] = {
    "penduduk": _penduduk,
    "permohonan": _permohonan,
    "anggaran": _anggaran,
    "realisasi": _realisasi,
    "kinerja": _kinerja,
    "target": _opd,
}


def check(entity: str, row: dict[str, Any]) -> list[RuleViolation]:
    """Every broken rule of row (empty when valid); entities without rules pass."""
    checker = CHECKS.get(entity)
    return checker(row) if checker else []
