"""Where a connector keeps its cursor when the source cannot: the bus's own database.

Like Kafka Connect's offset storage, one row per (source, name): a polling watermark, a file
ledger entry. CDC keeps its cursor in the replication slot itself and needs none of this.
Written only after Kafka acknowledged what the cursor covers.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from opdbus.config import Config

DDL = """
CREATE SCHEMA IF NOT EXISTS connect;
CREATE TABLE IF NOT EXISTS connect.offsets (
    source     text NOT NULL,
    name       text NOT NULL,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, name)
);
"""


class OffsetStore:
    def __init__(self, config: Config, source: str) -> None:
        self.source = source
        self.conn = psycopg.connect(config.postgres_url("opdbus"), autocommit=True)
        self.conn.execute(DDL)

    def get(self, name: str) -> Any:
        row = self.conn.execute(
            "SELECT value FROM connect.offsets WHERE source = %s AND name = %s",
            (self.source, name),
        ).fetchone()
        return None if row is None else row[0]

    def put(self, name: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO connect.offsets (source, name, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (source, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            (self.source, name, Jsonb(value)),
        )

    def close(self) -> None:
        self.conn.close()
