"""Row changes to envelopes on Kafka: c/u/d/r events, tombstones, key changes, dead letters.

This is the hot path (one call per change): no copies beyond what the envelope needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from opdbus.connectors.cdc.positions import snapshot_position
from opdbus.connectors.cdc.routes import Route
from opdbus.connectors.cdc.wal2json import Change
from opdbus.connectors.publisher import Publisher
from opdbus.connectors.records import RecordError
from opdbus.envelope import EventIds

log = logging.getLogger("opdbus.connect.cdc")


class TruncateNotPropagated(Exception):
    """TRUNCATE removes every row without naming them: there is no per-key delete to send."""


class Emitter:
    def __init__(
        self,
        publisher: Publisher,
        opd: str,
        system: str,
        database: str,
        routes: dict[tuple[str, str], Route],
        types: Callable[[Route], dict[str, str]],
    ) -> None:
        self.publisher = publisher
        self.opd = opd
        self.system = system
        self.database = database
        self.routes = routes
        self._types = types
        self._ids = {r.name: EventIds(opd, system, database, r.name) for r in routes.values()}
        self.events = 0  # envelopes handed to Kafka (tombstones and dead letters not counted)
        self.dead_letters = 0

    # -- envelopes ------------------------------------------------------------------------

    def _event(
        self,
        op: str,
        route: Route,
        position: str,
        ts_ms: int,
        tx_id: str | None,
        snapshot: bool,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> dict[str, Any]:
        # make_event's shape and event_id, built directly (a test holds them equal): this runs
        # for every change.
        return {
            "op": op,
            "before": before,
            "after": after,
            "source": {
                "opd": self.opd,
                "system": self.system,
                "database": self.database,
                "table": route.name,
                "position": position,
                "ts_ms": ts_ms,
                "tx_id": tx_id,
                "snapshot": snapshot,
            },
            "ts_ms": int(time.time() * 1000),
            "event_id": self._ids[route.name].of(position),
        }

    def _publish(self, route: Route, key: str, event: dict[str, Any]) -> None:
        self.publisher.publish(route.topic, key, event)
        self.events += 1

    def _tombstone(self, route: Route, key: str) -> None:
        if route.compacted:
            self.publisher.tombstone(route.topic, key)

    def _dead_letter(
        self,
        route: Route,
        key: str,
        row: Mapping[str, Any] | None,
        error: Exception,
        op: str,
        position: str,
        lsn: str,
        tx_id: str | None,
    ) -> None:
        context = {
            "database": self.database,
            "table": route.qualified,
            "op": op,
            "position": position,
            "lsn": lsn,
        }
        if tx_id is not None:
            context["tx_id"] = tx_id
        self.publisher.dead_letter(key, row, error, context)
        self.dead_letters += 1

    def _check_columns(self, route: Route, row: Mapping[str, Any]) -> None:
        if not row.keys() <= route.accepted:
            route.check_columns(row, self.publisher, lambda: self._types(route))

    # -- streamed changes -----------------------------------------------------------------

    def change(self, change: Change) -> None:
        route = self.routes.get((change.schema, change.table))
        if route is None:  # add-tables filters; a table dropped from the config since
            return
        if change.action == "T":
            self._truncate(route, change)
            return
        tx_id = str(change.xid)
        after, before = change.after, change.before
        if change.action == "D":
            if before is None:  # REPLICA IDENTITY NOTHING since we set FULL: no key to delete
                self._dead_letter(
                    route, route.qualified, {"action": "DELETE", "table": route.qualified},
                    ValueError("delete without the old row: set REPLICA IDENTITY FULL"),
                    "d", change.position, change.lsn, tx_id,
                )  # fmt: skip
                return
            self._delete(route, change, before, change.position, tx_id)
            return
        assert after is not None
        self._check_columns(route, after)
        if change.action == "U" and before is not None:
            if route.key_of(before) != route.key_of(after):
                # Debezium's way: the old key is deleted (and forgotten by compaction), the new
                # key is created; the create takes the WAL record's next event number.
                self._delete(route, change, before, change.position, tx_id)
                base, _, n = change.position.rpartition(":")
                self._upsert("c", route, change, None, after, f"{base}:{int(n) + 1}", tx_id)
                return
            self._upsert("u", route, change, before, after, change.position, tx_id)
            return
        op = "c" if change.action == "I" else "u"
        self._upsert(op, route, change, None, after, change.position, tx_id)

    def _upsert(
        self,
        op: str,
        route: Route,
        change: Change,
        raw_before: dict[str, Any] | None,
        raw_after: dict[str, Any],
        position: str,
        tx_id: str,
    ) -> None:
        key = route.key_of(raw_after)
        try:
            after = route.builder.build(raw_after)
        except RecordError as exc:
            self._dead_letter(route, key, raw_after, exc, op, position, change.lsn, tx_id)
            return
        before = None
        if raw_before is not None:
            try:
                before = route.builder.build(raw_before)
            except RecordError:
                # The old row broke the schema (its own change went to the DLQ): the envelope
                # says "unknown before" rather than parking a valid new row.
                before = None
        event = self._event(op, route, position, change.ts_ms, tx_id, False, before, after)
        self._publish(route, key, event)

    def _delete(
        self, route: Route, change: Change, raw_before: dict[str, Any], position: str, tx_id: str
    ) -> None:
        self._check_columns(route, raw_before)
        key = route.key_of(raw_before)
        try:
            before = route.builder.build(raw_before)
        except RecordError as exc:
            self._dead_letter(route, key, raw_before, exc, "d", position, change.lsn, tx_id)
        else:
            event = self._event("d", route, position, change.ts_ms, tx_id, False, before, None)
            self._publish(route, key, event)
        self._tombstone(route, key)  # the key is gone either way

    def _truncate(self, route: Route, change: Change) -> None:
        log.warning(
            "TRUNCATE of %s.%s (xid %s, LSN %s) is not propagated: downstream keeps the rows. "
            "Re-snapshot the table to reconcile (see docs/decisions/0004-cdc.md)",
            self.database,
            route.qualified,
            change.xid,
            change.lsn,
        )
        error = TruncateNotPropagated(
            f"TRUNCATE of {route.qualified} removed every row; no per-key deletes were sent"
        )
        payload = {"action": "TRUNCATE", "table": route.qualified, "xid": change.xid}
        self._dead_letter(
            route, route.qualified, payload, error, "t", change.position, change.lsn,
            str(change.xid),
        )  # fmt: skip

    # -- snapshot rows --------------------------------------------------------------------

    def snapshot_row(self, route: Route, row: dict[str, Any], point: str, ts_ms: int) -> None:
        self._check_columns(route, row)
        key = route.key_of(row)
        position = snapshot_position(point, key)
        try:
            after = route.builder.build(row)
        except RecordError as exc:
            self._dead_letter(route, key, row, exc, "r", position, point, None)
            return
        self._publish(route, key, self._event("r", route, position, ts_ms, None, True, None, after))
