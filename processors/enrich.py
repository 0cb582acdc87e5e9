"""Population state per NIK and the attributes an OPD's agreement (PKS) lets it receive.

The state keeps only what enrichment needs (no name, no KK number): birth date for the age
band, sex, domicile kelurahan, civil status, and the source position that ordered it.

Records arrive as Avro wire values (opdbus.serde.strip_logical): a date is a day number, a
timestamp-millis an int; the few dates the logic needs come from opdbus.wire.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from opdbus import rules, wire
from opdbus.envelope import ts_millis

ELEMENTS = ("kelompok_umur", "jenis_kelamin", "kode_kecamatan", "kode_kelurahan", "status")
BAND_YEARS = 5
OLDEST_BAND = 75


def age_band(birth: dt.date, on: dt.date) -> str:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    years = max(years, 0)
    if years >= OLDEST_BAND:
        return f"{OLDEST_BAND}+"
    low = years - years % BAND_YEARS
    return f"{low}-{low + BAND_YEARS - 1}"


def citizen_state(after: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """What the population table stores for one NIK (JSON-friendly)."""
    return {
        "tanggal_lahir": after["tanggal_lahir"],  # days since 1970-01-01
        "jenis_kelamin": after["jenis_kelamin"],
        "kode_kelurahan": after["kode_kelurahan"],
        "status": after["status"],
        "version": [ts_millis(source["ts_ms"]), source["position"]],
    }


def is_newer(incoming: list[Any], stored: dict[str, Any] | None) -> bool:
    """Source order (commit time, then position) decides; an older change never overwrites."""
    return stored is None or tuple(incoming) >= tuple(stored["version"])


def attributes(state: dict[str, Any] | None, on: dt.date, allowed: frozenset[str]) -> dict:
    """All five elements, each None unless the PKS allows it (and the citizen is known)."""
    if state is None:
        return dict.fromkeys(ELEMENTS)
    full = {
        "kelompok_umur": age_band(wire.date_of_days(state["tanggal_lahir"]), on),
        "jenis_kelamin": state["jenis_kelamin"],
        "kode_kecamatan": rules.kecamatan_of(state["kode_kelurahan"]),
        "kode_kelurahan": state["kode_kelurahan"],
        "status": state["status"],
    }
    return {name: (full[name] if name in allowed else None) for name in ELEMENTS}
