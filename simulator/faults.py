"""Which generated records carry a fault, and which fault: realistic slips, at a set share."""

from __future__ import annotations

import random
from collections.abc import Mapping

from opdbus.simulator.draw import Weighted
from opdbus.simulator.nik import NIK_FAULTS

# Codes a clerk might type for a kelurahan: a kecamatan Pontianak does not have, a number that
# was never assigned, the undotted form, a neighbouring city. All fit varchar(13).
UNKNOWN_KELURAHAN = (
    "61.71.07.1001",
    "61.71.01.1001",
    "61.71.03.1005",
    "61.71.02.1008",
    "6171011002",
    "61.72.01.1001",
    "61.71.4.1001",
)
# Free-text statuses from before SIAK's code list.
UNKNOWN_STATUS = ("MATI", "WAFAT", "PINDAH KELUAR", "hidup")

# Fault kinds per kind of record, with relative weights.
NEW_CITIZEN = {**dict.fromkeys(NIK_FAULTS, 1.0), "kelurahan_unknown": 2.0, "missing_field": 2.0}
APPLICANT = {**dict.fromkeys(NIK_FAULTS, 1.0), "kelurahan_unknown": 2.0, "missing_field": 2.0}
FILE_ROW = {"missing_field": 1.0, "wrong_type": 1.0}
JSON_ITEM = {"missing_field": 1.0, "wrong_type": 1.0}


class Faults:
    """Draws 'is this record bad, and how' from its own random stream."""

    def __init__(self, share: float, rng: random.Random) -> None:
        if not 0 <= share <= 1:
            raise ValueError(f"bad share must be within 0..1, got {share}")
        self.share = share
        self.rng = rng
        self._pickers: dict[tuple[tuple[str, float], ...], Weighted[str]] = {}

    def pick(self, kinds: Mapping[str, float]) -> str | None:
        """None for a clean record (1 - share of the time), else one of `kinds`."""
        if self.share == 0 or self.rng.random() >= self.share:
            return None
        key = tuple(kinds.items())
        picker = self._pickers.get(key)
        if picker is None:
            picker = self._pickers[key] = Weighted(kinds)
        return picker.pick(self.rng)

    def unknown_kelurahan(self) -> str:
        return self.rng.choice(UNKNOWN_KELURAHAN)

    def unknown_status(self) -> str:
        return self.rng.choice(UNKNOWN_STATUS)
