"""Realistic sample events built on the shipped schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any

from confluent_kafka.schema_registry import topic_subject_name_strategy

from opdbus.envelope import Source, make_event

# confluent-kafka 2.16's default subject-name strategy first asks the registry's
# /associations API (Confluent Cloud's); Apicurio answers 404, and once in CI never finished
# that response, leaving the client (no HTTP timeout by default) waiting for ever. Outside
# clients of Apicurio name the strategy (docs/decisions/0003).
APICURIO_SERIALIZER_CONF = {"subject.name.strategy": topic_subject_name_strategy}


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
