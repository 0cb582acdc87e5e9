"""Fresh restart points for the slot, so each peek re-decodes little WAL.

Every `pg_logical_slot_peek_changes` call decodes from the slot's restart LSN, not from its
confirmed one, and the restart LSN only moves past a running-transactions WAL record, which
PostgreSQL writes every 15 s at most (and only the bgwriter does). With busy databases next
door that is up to hundreds of MB of WAL decoded again on every peek: a PostgreSQL core kept
busy at 1,000 changes/s and seconds of delay. Logging that record once a second keeps the
window to about a second. PostgreSQL 16 has `pg_log_standby_snapshot()` for it; 15 writes one
when a logical slot is created, so we create and drop a temporary slot (the record is written
before the creation waits for running transactions, so a timeout still does the job).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

log = logging.getLogger("opdbus.connect.cdc")

EVERY_S = 1.0
LAG_BYTES = 1 << 20  # WAL a peek would decode again; below this, write nothing
TIMEOUT = "1s"


class RestartPoints(threading.Thread):
    def __init__(self, conninfo: str, slot: str) -> None:
        super().__init__(name=f"restart-points-{slot}", daemon=True)
        self.conninfo = conninfo
        self.slot = slot
        self.temporary = f"{slot}_rx"[:63]
        self.stop = threading.Event()

    def close(self) -> None:
        self.stop.set()
        self.join(10)

    def run(self) -> None:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(TIMEOUT)))
                log_snapshot = self._how(conn)
                while not self.stop.wait(EVERY_S):
                    if self._restart_lag(conn) > LAG_BYTES:
                        log_snapshot(conn)
        except psycopg.Error as exc:  # an optimisation: losing it costs CPU, never changes
            log.warning("no more restart points for slot %s: %s", self.slot, exc)

    def _restart_lag(self, conn: psycopg.Connection) -> int:
        row = conn.execute(
            "SELECT (pg_current_wal_lsn() - restart_lsn)::bigint FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (self.slot,),
        ).fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def _how(self, conn: psycopg.Connection) -> Callable[[psycopg.Connection], object]:
        if conn.info.server_version >= 160000:
            return lambda c: c.execute("SELECT pg_log_standby_snapshot()")
        return self._temporary_slot

    def _temporary_slot(self, conn: psycopg.Connection) -> None:
        try:
            conn.execute(
                "SELECT pg_create_logical_replication_slot(%s, 'wal2json', true)",
                (self.temporary,),
            )
        except psycopg.errors.QueryCanceled:
            return  # waited for a long transaction: the record is written all the same
        conn.execute("SELECT pg_drop_replication_slot(%s)", (self.temporary,))
