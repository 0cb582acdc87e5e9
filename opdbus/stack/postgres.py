"""PostgreSQL 15 from Debian's packages: our own cluster, on our own port, in the state dir.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user on a
directory it owns. wal_level=logical and wal2json serve the CDC connectors.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from opdbus.config import Config
from opdbus.stack.layout import Layout
from opdbus.stack.process import StackError, require_free_port, run, tcp_accepts, wait_until

SETTINGS = {
    "listen_addresses": "'{host}'",
    "port": "{port}",
    "unix_socket_directories": "'{socket_dir}'",
    "wal_level": "logical",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "max_slot_wal_keep_size": "'4GB'",  # a forgotten slot must not fill the disk
    # Few checkpoints, compressed page images: with the defaults (1GB, 5min, off) the sink's
    # merges wrote 87 % of their WAL as full-page images, and every CDC slot in the cluster
    # reads all of it (docs/decisions/0015-cdc-cost.md).
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "wal_compression": "lz4",
    "logging_collector": "off",
}


class Postgres:
    name = "postgres"

    def __init__(self, config: Config, layout: Layout) -> None:
        self.conf: dict[str, Any] = config.stack["postgres"]
        self.config = config
        self.layout = layout
        self.data_dir = layout.data("postgres")
        self.socket_dir = layout.run / "postgres"
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def endpoint(self) -> str:
        return f"postgresql://{self.conf['host']}:{self.conf['port']}"

    def _bin(self, tool: str) -> str:
        path = Path(self.conf["bin_dir"]) / tool
        if not path.exists():
            raise StackError(
                f"{path} not found: install PostgreSQL 15 (apt-get install postgresql-15 "
                f"postgresql-15-wal2json) or set OPDBUS_STACK__POSTGRES__BIN_DIR"
            )
        return str(path)

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(path, self.user, self.user)

    def alive(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists() and tcp_accepts(
            self.conf["host"], self.conf["port"]
        )

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _initdb(self) -> None:
        self._own(self.data_dir)
        password = self.layout.secret("postgres")
        # The password file must be readable by the postgres user, and only briefly.
        with tempfile.NamedTemporaryFile("w", dir=self.layout.run, delete=False) as pw:
            pw.write(password)
        try:
            if self.user:
                shutil.chown(pw.name, self.user, self.user)
            run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.conf["superuser"],
                    "--auth=scram-sha-256",
                    f"--pwfile={pw.name}",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                what="initdb",
                user=self.user,
            )
        finally:
            os.unlink(pw.name)
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'opdbus.conf'\n")

    def _write_settings(self) -> None:
        values = {"host": self.conf["host"], "port": self.conf["port"]}
        values["socket_dir"] = str(self.socket_dir)
        lines = [f"{key} = {value.format(**values)}" for key, value in SETTINGS.items()]
        path = self.data_dir / "opdbus.conf"
        path.write_text("# written by `opdbus stack up`\n" + "\n".join(lines) + "\n")
        if self.user:
            shutil.chown(path, self.user, self.user)

    def up(self, timeout_s: float) -> str:
        if self.alive():
            return "already running"
        require_free_port(
            "PostgreSQL", self.conf["host"], self.conf["port"], "OPDBUS_STACK__POSTGRES__PORT"
        )
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._own(self.socket_dir)
        self._write_settings()
        log = self.layout.log("postgres")
        log.touch()
        if self.user:
            shutil.chown(log, self.user, self.user)
        run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(log),
                "-w",
                "-t",
                str(int(timeout_s)),
                "start",
            ],
            what=f"PostgreSQL start (see {log})",
            user=self.user,
        )
        wait_until("PostgreSQL", self._accepts_login, timeout_s, lambda: True, log)
        self._create_databases()
        return "started"

    def _accepts_login(self) -> bool:
        try:
            with psycopg.connect(self.config.postgres_url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _create_databases(self) -> None:
        with psycopg.connect(self.config.postgres_url("postgres"), autocommit=True) as conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for name in self.conf["databases"]:
                if name not in existing:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def down(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            what="PostgreSQL stop",
            user=self.user,
        )
        return True
