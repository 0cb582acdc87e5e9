"""Realistic sample events built on the shipped schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any

from opdbus.envelope import Source, make_event


def penduduk_event(nik: str = "6171015203900001", position: str = "0/16B3748") -> dict[str, Any]:
    citizen = {
        "nik": nik,
        "no_kk": "6171010101200001",
        "nama": "Siti Aminah",
        "tanggal_lahir": dt.date(1990, 3, 12),
        "jenis_kelamin": "P",
        "kode_kelurahan": "61.71.01.1002",
        "status": "HIDUP",
        "updated_at": dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC),
    }
    source = Source("disdukcapil", "siak", "siak", "penduduk", position, 1793521800000, "7781")
    return make_event("c", source, after=citizen, now_ms=1793521800123)
