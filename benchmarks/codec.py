"""Avro per record: the compiled codec (opdbus.codec) beside fastavro, in the same process.

    .venv/bin/python benchmarks/codec.py [--records 50000] [--rounds 3]

Encodes and decodes integrated events of the widest record the bus sends (perizinan) and the
population dimension (penduduk_pseudonim), with wire values as the processors build them,
first with fastavro's schemaless writer and reader (the baseline), then with the functions
opdbus.codec compiles. Prints µs per record (the best of --rounds) and the ratio; checks that
both give the same bytes and values; needs no services.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from typing import Any

import fastavro

from opdbus import codec, schemas
from opdbus.serde import strip_logical

TS = 1_790_000_000_000  # a 2026 timestamp-millis: a 6-byte varint, as on the bus

SOURCE = {
    "opd": "dpmptsp",
    "system": "perizinan",
    "database": "perizinan",
    "table": "permohonan",
    "position": "0/16B3C8A0",
    "tx_id": "1234",
    "ts_ms": TS,
    "snapshot": False,
}
ATTRIBUTES = {
    "kelompok_umur": "30-34",
    "jenis_kelamin": "P",
    "kode_kecamatan": "61.71.02",
    "kode_kelurahan": "61.71.02.1003",
    "status": "HIDUP",
}
RECORDS = {
    "perizinan": {
        "id_permohonan": 123_456,
        "nomor_permohonan": "PBG-2026-123456",
        "jenis_izin": "PBG",
        "kode_kelurahan": "61.71.05.1001",
        "kode_kecamatan": "61.71.05",
        "status": "DIAJUKAN",
        "tanggal_pengajuan": TS,
        "tanggal_keputusan": None,
        "updated_at": TS,
        "kanal": None,
        "nik_pseudonim": "a" * 64,
        "kunci_pseudonim": "k1",
        "pemohon": ATTRIBUTES,
        "pencocokan": "COCOK",
        "menunggu_ms": 0,
    },
    "penduduk_pseudonim": {
        "nik_pseudonim": "b" * 64,
        "kunci_pseudonim": "k1",
        **ATTRIBUTES,
        "updated_at": TS,
    },
}


def per_record_us(work: Callable[[], Any], records: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(records):
            work()
        best = min(best, time.perf_counter() - started)
    return best / records * 1e6


def measure(entity: str, record: dict[str, Any], records: int, rounds: int) -> None:
    parsed = fastavro.parse_schema(strip_logical(schemas.current(entity)))
    event = {
        "op": "c",
        "before": None,
        "after": record,
        "source": SOURCE,
        "ts_ms": TS + 100,
        "event_id": "e" * 36,
    }
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, event)
    data = out.getvalue()
    write, read = codec.writer(parsed), codec.reader(parsed)
    assert write(event, b"") == data and read(data, 0) == event, entity

    def fastavro_write() -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, event)
        return out.getvalue()

    timings = {
        "encode": (fastavro_write, lambda: write(event, b"")),
        "decode": (
            lambda: fastavro.schemaless_reader(io.BytesIO(data), parsed, None),
            lambda: read(data, 0),
        ),
    }
    print(f"{entity} ({len(data)} bytes), best of {rounds} x {records:,}:")
    for what, (with_fastavro, compiled) in timings.items():
        baseline = per_record_us(with_fastavro, records, rounds)
        ours = per_record_us(compiled, records, rounds)
        print(
            f"  {what}: fastavro (baseline) {baseline:.2f} µs, compiled {ours:.2f} µs"
            f" = {baseline / ours:.2f} x faster"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for entity, record in RECORDS.items():
        measure(entity, record, args.records, args.rounds)


if __name__ == "__main__":
    main()
