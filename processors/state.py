"""The worker's state: one RocksDB (rocksdict) database per partition it owns.

A partition's database holds the population of that partition (`penduduk`, by NIK), the events
waiting for a NIK not yet known (`menunggu`), and the population topic offset the population
part reflects. Because the population topic is compacted and keyed by NIK, it is itself the
changelog of that state (as in Kafka Streams' source-topic changelog): a worker without the
database, or behind, reads the topic again. The waiting events have a compacted changelog of
their own (written by the worker, keyed by NIK).

Changes made while a batch is processed are kept in `pending` (later lookups in the batch see
them) and written in one WriteBatch once the batch's outputs are acknowledged.

Every application looks a citizen up, so citizens are stored compactly (`pack_citizen`), and a
state rebuilt from the topic is compacted at once (`compact`). A database written in another
layout (`FORMAT`) is emptied on opening and rebuilt from the topic like a lost one.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

from opdbus.config import Config

PENDUDUK = b"p:"
MENUNGGU = b"w:"
OFFSET = b"o:"
FORMAT = b"f:"
LAYOUT = b"2"  # 1: JSON citizens; 2: pack_citizen
_GONE = object()  # a pending delete
# Citizens are their fields joined by the ASCII unit separator, which no code, status or
# number holds; the source position, which may hold anything, comes last and is split off
# whole. A third of the JSON's bytes, a quarter of its decoding time.
SEPARATOR = "\x1f"
CITIZEN_FIELDS = ("tanggal_lahir", "jenis_kelamin", "kode_kelurahan", "status")
DELETED = "-"  # in place of the fields: only the version of a deleted citizen is kept

log = logging.getLogger("opdbus.process")


def pack_citizen(citizen: dict[str, Any]) -> bytes:
    committed, position = citizen["version"]
    if citizen.get("deleted"):
        fields = [DELETED]
    else:
        fields = [str(citizen[name]) for name in CITIZEN_FIELDS]
    return SEPARATOR.join([*fields, str(committed), position]).encode()


def unpack_citizen(data: bytes) -> dict[str, Any]:
    first, rest = data.decode().split(SEPARATOR, 1)
    if first == DELETED:
        committed, position = rest.split(SEPARATOR, 1)
        return {"deleted": True, "version": [int(committed), position]}
    sex, kelurahan, status, committed, position = rest.split(SEPARATOR, 4)
    return {
        "tanggal_lahir": int(first),
        "jenis_kelamin": sex,
        "kode_kelurahan": kelurahan,
        "status": status,
        "version": [int(committed), position],
    }


def app_state_dir(config: Config) -> Path:
    """The RocksDB state of every worker of the configured app id on this machine."""
    return config.state_dir / "processor" / config.section("processors")["app_id"]


def worker_state_dir(config: Config, worker: int) -> Path:
    """One data directory per worker on a machine: RocksDB locks its files."""
    return app_state_dir(config) / f"worker-{worker}"


def rocksdb_options(settings: dict[str, Any]) -> Options:
    """Small write buffers and one block cache shared by every partition (RocksDB's defaults
    suit a server with one big database, not a worker with many small ones)."""
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(int(settings["write_buffer_size"]))
    options.set_max_write_buffer_number(int(settings["max_write_buffer_number"]))
    # Every application looks a citizen up; mmap spares each lookup a read() into a buffer.
    options.set_allow_mmap_reads(bool(settings.get("mmap_reads", False)))
    table = BlockBasedOptions()
    table.set_block_cache(Cache(int(settings["block_cache_size"])))
    # A lookup of a NIK probes every overlapping file; a bloom filter skips those without it.
    table.set_bloom_filter(10, False)
    options.set_block_based_table_factory(table)
    return options


class PartitionState:
    def __init__(self, path: Path, options: Options, citizens_in_memory: bool = False) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.db = Rdict(str(path), options)
        if self.db.get(FORMAT) != LAYOUT:
            self._start_empty(path, options)
        self.pending: dict[bytes, Any] = {}
        # Every event looks a citizen up, and beside the other stages a RocksDB get cost
        # several times what it does alone: with citizens_in_memory the partition's packed
        # citizens are also kept in a dict (docs/decisions/0014-processor-state-layout.md),
        # RocksDB stays their durable copy.
        self.citizens: dict[bytes, bytes] | None = (
            dict(self._items(PENDUDUK)) if citizens_in_memory else None
        )
        # Few NIKs ever wait: knowing which spares a RocksDB lookup per event for the rest.
        self.waiting_niks: set[str] = {
            key[len(MENUNGGU) :].decode() for key in self._keys(MENUNGGU)
        }

    def _start_empty(self, path: Path, options: Options) -> None:
        """A new database, or one in another layout: emptied, so that its population offset
        is 0 and the worker reads the population topic again."""
        if next(iter(self.db.keys()), None) is not None:
            log.info("state %s was written in another layout: rebuilding it from the topic", path)
            self.db.close()
            shutil.rmtree(path)
            path.mkdir(parents=True)
            self.db = Rdict(str(path), options)
        self.db.put(FORMAT, LAYOUT)

    def _items(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self.db.items(from_key=prefix):
            if not key.startswith(prefix):
                break
            yield key, value

    def _keys(self, prefix: bytes) -> list[bytes]:
        return [key for key, _ in self._items(prefix)]

    def _get(self, key: bytes, decode: Callable[[bytes], Any] = json.loads) -> Any:
        if key in self.pending:
            found = self.pending[key]
            return None if found is _GONE else found
        raw = self.db.get(key)
        return None if raw is None else decode(raw)

    def citizen(self, nik: str) -> dict[str, Any] | None:
        key = PENDUDUK + nik.encode()
        if key in self.pending or self.citizens is None:
            return self._get(key, unpack_citizen)
        packed = self.citizens.get(key)
        return None if packed is None else unpack_citizen(packed)

    def set_citizen(self, nik: str, state: dict[str, Any]) -> None:
        self.pending[PENDUDUK + nik.encode()] = state

    def waiting(self, nik: str) -> list[dict[str, Any]] | None:
        return self._get(MENUNGGU + nik.encode()) if nik in self.waiting_niks else None

    def set_waiting(self, nik: str, items: list[dict[str, Any]] | None) -> None:
        self.pending[MENUNGGU + nik.encode()] = items if items else _GONE
        if items:
            self.waiting_niks.add(nik)
        else:
            self.waiting_niks.discard(nik)

    def all_waiting(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Every waiting entry, the batch's own changes included."""
        for nik in sorted(self.waiting_niks):
            items = self.waiting(nik)
            if items:
                yield nik, items

    def clear_waiting(self) -> None:
        """Forget the local waiting entries (the changelog is read again on assignment)."""
        for key in self._keys(MENUNGGU):
            self.db.delete(key)
        self.waiting_niks.clear()

    def offset(self, topic: str) -> int:
        """The next offset of topic (this partition) that the stored state has not seen."""
        raw = self.db.get(OFFSET + topic.encode())
        return 0 if raw is None else int(raw)

    def set_offset(self, topic: str, offset: int) -> None:
        self.pending[OFFSET + topic.encode()] = offset

    def write(self) -> None:
        """Make the batch's changes durable in one atomic write."""
        if not self.pending:
            return
        batch = WriteBatch(raw_mode=True)
        citizens = {}
        for key, value in self.pending.items():
            if value is _GONE:
                batch.delete(key)
            elif key.startswith(PENDUDUK):
                citizens[key] = pack_citizen(value)
                batch.put(key, citizens[key])
            else:
                batch.put(key, json.dumps(value, separators=(",", ":")).encode())
        self.db.write(batch)
        if self.citizens is not None:
            self.citizens.update(citizens)
        self.pending.clear()

    def compact(self) -> None:
        """Merge the files a bulk load left (each lookup would probe every one of them), as
        Kafka Streams compacts a store after restoring it."""
        self.db.compact_range(None, None)

    def close(self) -> None:
        self.pending.clear()
        self.citizens = None
        self.db.close()
