"""What a simulation produced: counts per kind and the key of every bad record.

Tests and connector checks read it to tell injected faults from bugs: a record whose key is
listed must end in a dead-letter queue (or a 4xx), every other one must arrive.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BadRecord:
    """One injected fault. `key` is the row's primary key (nik, id_permohonan, id...), or
    `<file>:<line>` for a dropped file and `<request id>#<item index>` for a push."""

    system: str  # siak, perizinan, keuangan, bappeda, esakip
    table: str  # penduduk, permohonan, riwayat_status, anggaran, realisasi, target, kinerja
    key: str
    kind: str  # e.g. nik_month, kelurahan_unknown, missing_field, wrong_type
    field: str  # the column, cell or JSON field at fault
    activity: str  # the activity that produced it, e.g. lahir, pindah_dalam


@dataclass
class Manifest:
    seed: int
    activities: Counter[str] = field(default_factory=Counter)  # per activity kind
    records: Counter[str] = field(default_factory=Counter)  # per "<system>.<table>": rows written
    bad: list[BadRecord] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)  # e.g. esakip.unreachable
    info: dict[str, Any] = field(default_factory=dict)  # start/end times, rates...

    def add_bad(self, record: BadRecord) -> None:
        self.bad.append(record)

    @property
    def bad_counts(self) -> Counter[str]:
        return Counter(record.kind for record in self.bad)

    def bad_keys(self, system: str, table: str) -> set[str]:
        return {r.key for r in self.bad if r.system == system and r.table == table}

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "info": self.info,
            "activities": dict(sorted(self.activities.items())),
            "records": dict(sorted(self.records.items())),
            "bad_counts": dict(sorted(self.bad_counts.items())),
            "notes": dict(sorted(self.notes.items())),
            "bad": [asdict(record) for record in self.bad],
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_text(json.dumps(self.to_json(), indent=1, default=str), encoding="utf-8")
        part.replace(path)
        return path

    @classmethod
    def read(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            seed=data["seed"],
            activities=Counter(data["activities"]),
            records=Counter(data["records"]),
            bad=[BadRecord(**record) for record in data["bad"]],
            notes=Counter(data["notes"]),
            info=data["info"],
        )
