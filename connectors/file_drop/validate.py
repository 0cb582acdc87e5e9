"""One spreadsheet row to a target record, or the field and rule it breaks.

Checks, in order: cells right of the header, the entity schema (RecordBuilder: required fields,
types, enum values), the domain rules of opdbus.rules (the OPD slug is a configured one), and
the derived id being new within the file (two rows with one id: which one holds?).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opdbus import rules
from opdbus.config import ConfigError
from opdbus.connectors.records import RecordBuilder, RecordError

from .reader import Row

# Bappeda's files carry no id: it is <tahun>/<kode_opd>/<kode_indikator> (the target schema).
ID_FIELD = "id"
ID_PARTS = ("tahun", "kode_opd", "kode_indikator")


class RowError(ValueError):
    """A row rejected for a reason that is not one field's value."""

    def __init__(self, rule: str, field: str | None = None) -> None:
        super().__init__(rule)
        self.rule = rule
        self.field = field


REJECTIONS = (RecordError, rules.RuleViolation, RowError)
DomainCheck = Callable[[dict[str, Any]], None]


def opd_is_configured(record: dict[str, Any]) -> None:
    rules.validate_opd(record["kode_opd"])


class TargetRows:
    """Validates the rows of one file after another; `start_file()` between files."""

    def __init__(
        self, entity_record: Mapping[str, Any], checks: tuple[DomainCheck, ...] = ()
    ) -> None:
        self.builder = RecordBuilder(entity_record)
        lacking = [f for f in (ID_FIELD, *ID_PARTS) if f not in self.builder.field_names]
        if lacking:
            raise ConfigError(
                f"file drop derives {ID_FIELD} from {', '.join(ID_PARTS)}, but the topic's "
                f"schema {entity_record['name']} has no {', '.join(lacking)}"
            )
        self.checks = checks
        self.required = [
            f.name
            for f in self.builder.fields
            if not f.nullable and f.default is None and f.name != ID_FIELD
        ]
        self._lines: dict[str, int] = {}

    def missing_columns(self, header: list[str]) -> list[str]:
        return [name for name in self.required if name not in header]

    def start_file(self) -> None:
        self._lines = {}

    def record(self, row: Row) -> dict[str, Any]:
        """The Avro record of a row, or raises a Rejection."""
        if row.extra:
            raise RowError(f"has {len(row.extra)} more cell(s) than the header")
        # The id is derived after the parts are checked, so a missing tahun is reported as
        # tahun, not as the id it would have made.
        record = self.builder.build({**row.values, ID_FIELD: "derived"})
        record[ID_FIELD] = "/".join(str(record[part]) for part in ID_PARTS)
        for check in self.checks:
            check(record)
        first = self._lines.setdefault(record[ID_FIELD], row.line)
        if first != row.line:
            raise RecordError(ID_FIELD, f"repeats the id of line {first}", record[ID_FIELD])
        return record
