"""A citizen lookup in the processor's partition state: RocksDB alone against the dict kept
beside it (`processors.rocksdb.citizens_in_memory`, docs/decisions/0014), and what the dict
costs in memory.

    .venv/bin/python benchmarks/citizen_lookup.py [--citizens 115000] [--lookups 100000]

Writes --citizens citizens (one partition of 690,000 is about 115,000) into a fresh
PartitionState in a temporary directory, in random order and in batches as the worker writes
them, with the configured RocksDB options. Then, in three rounds, times `state.citizen(nik)`
for --lookups known NIKs picked at random, once on the state opened without the dict (the
baseline) and once with it; and measures the dict's memory with tracemalloc while a state
opens. Nothing else runs in this process: beside the bus's other processes a RocksDB get
costs more (docs/benchmarks.md, end to end, fifth session). Asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from opdbus import config as config_module
from opdbus.connectors.cdc.lsn import padded
from opdbus.connectors.cdc.positions import stream_position
from opdbus.processors.state import PartitionState, rocksdb_options

CITIZEN = {
    "tanggal_lahir": 7300,
    "jenis_kelamin": "P",
    "kode_kelurahan": "61.71.01.1002",
    "status": "HIDUP",
}
BATCH = 2000  # the worker's processors.batch_max


def fill(path: Path, options, niks: list[str]) -> None:
    state = PartitionState(path, options)
    for n, nik in enumerate(random.sample(niks, len(niks))):
        # A streamed change's source position, as SIAK's CDC connector writes it.
        position = stream_position(padded(f"1/{n * 96 + 64:X}"), f"1/{n * 96:X}", 0)
        state.set_citizen(nik, {**CITIZEN, "version": [1767571200000 + n, position]})
        if len(state.pending) >= BATCH:
            state.write()
    state.write()
    state.close()


def per_lookup_us(state: PartitionState, niks: list[str]) -> float:
    started = time.perf_counter()
    for nik in niks:
        state.citizen(nik)
    return (time.perf_counter() - started) / len(niks) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=115_000)
    parser.add_argument("--lookups", type=int, default=100_000)
    args = parser.parse_args()
    options = rocksdb_options(config_module.load().section("processors")["rocksdb"])
    random.seed(7)
    niks = [f"6171{n:012d}" for n in random.sample(range(10**12), args.citizens)]
    with tempfile.TemporaryDirectory(prefix="citizen-lookup-") as tmp:
        path = Path(tmp) / "partition-0"
        started = time.monotonic()
        fill(path, options, niks)
        print(f"{args.citizens:,} citizens written in {time.monotonic() - started:.1f}s")
        wanted = random.choices(niks, k=args.lookups)
        for round_ in range(1, 4):
            rocksdb = PartitionState(path, options, citizens_in_memory=False)
            baseline = per_lookup_us(rocksdb, wanted)
            rocksdb.close()
            in_memory = PartitionState(path, options, citizens_in_memory=True)
            with_dict = per_lookup_us(in_memory, wanted)
            in_memory.close()
            print(
                f"round {round_}: state.citizen {baseline:.2f} us from RocksDB (baseline), "
                f"{with_dict:.2f} us from the dict ({with_dict / baseline:.2f} x baseline)"
            )
        tracemalloc.start()
        started = time.monotonic()
        in_memory = PartitionState(path, options, citizens_in_memory=True)
        opened_s = time.monotonic() - started
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert in_memory.citizens is not None
        count = len(in_memory.citizens)
        in_memory.close()
        print(
            f"dict: {count:,} citizens, {held / count:.0f} bytes each (tracemalloc), "
            f"{held / count * 690_000 / 2**20:.0f} MiB for 690,000; read at opening in "
            f"{opened_s:.2f}s (under tracemalloc, which slows it)"
        )


if __name__ == "__main__":
    main()
