"""The initial snapshot: every row of the captured tables as an `r` event.

All tables are read in one REPEATABLE READ transaction: the slot's exported snapshot when the
slot was just created (the stream then starts exactly where the snapshot ends), else a fresh
one taken after the slot existed (the stream replays what committed in between: duplicates,
never a gap). A table is marked done in the offset store only after Kafka acknowledged all of
its rows, so a crash mid-snapshot re-reads that table and a finished table is never redone.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from psycopg import sql

from opdbus.connectors.cdc import catalog
from opdbus.connectors.cdc.emit import Emitter
from opdbus.connectors.cdc.routes import Route
from opdbus.connectors.offsets import OffsetStore
from opdbus.connectors.publisher import Publisher

log = logging.getLogger("opdbus.connect.cdc")


def marker(slot: str, route: Route) -> str:
    """Offset-store name of a table's snapshot state; per slot, since a new slot means a new
    starting point and so a new snapshot."""
    return f"snapshot/{slot}/{route.qualified}"


def is_done(offsets: OffsetStore, slot: str, route: Route) -> bool:
    state = offsets.get(marker(slot, route))
    return bool(state and state.get("done"))


def reset(offsets: OffsetStore, slot: str, routes: list[Route]) -> None:
    for route in routes:
        offsets.put(marker(slot, route), {"done": False})


def run(
    stop: threading.Event,
    routes: list[Route],
    reader: psycopg.Connection | None,
    url: str,
    point: str,
    emitter: Emitter,
    publisher: Publisher,
    offsets: OffsetStore,
    slot: str,
    batch_size: int,
) -> bool:
    """Snapshot routes; False if stopped before the end (what was read is acknowledged)."""
    if reader is None:
        reader = psycopg.connect(url)
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        reader.read_only = True
    started_ms = int(time.time() * 1000)
    try:
        for route in routes:
            began = time.monotonic()
            rows = _table(stop, route, reader, point, started_ms, emitter, batch_size)
            publisher.commit()
            if rows is None:
                log.info("snapshot of %s stopped; it restarts with the connector", route.qualified)
                return False
            offsets.put(marker(slot, route), {"done": True, "rows": rows, "point": point})
            elapsed = time.monotonic() - began
            log.info(
                "snapshot of %s: %d rows in %.1f s (%.0f rows/s)",
                route.qualified,
                rows,
                elapsed,
                rows / elapsed if elapsed else 0,
            )
        return True
    finally:
        reader.rollback()
        reader.close()


def _table(
    stop: threading.Event,
    route: Route,
    reader: psycopg.Connection,
    point: str,
    ts_ms: int,
    emitter: Emitter,
    batch_size: int,
) -> int | None:
    """Publishes the table's rows; the count, or None if stopped part way."""
    columns = catalog.columns(reader, route.qualified)
    query = sql.SQL("SELECT {} FROM {}.{}").format(
        catalog.select_list(columns), sql.Identifier(route.schema), sql.Identifier(route.name)
    )
    count = 0
    with reader.cursor(name=f"snapshot_{route.name}") as cursor:
        cursor.itersize = batch_size
        cursor.execute(query)
        names = [column.name for column in cursor.description or []]
        while rows := cursor.fetchmany(batch_size):
            for values in rows:
                row: dict[str, Any] = dict(zip(names, values, strict=True))
                emitter.snapshot_row(route, row, point, ts_ms)
            count += len(rows)
            if stop.is_set():
                return None
    return count
