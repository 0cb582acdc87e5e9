"""Apicurio Registry 3.3 (a Quarkus app from Maven Central), Confluent-compatible API.

Storage is SQL on the stack's PostgreSQL, so schemas survive a restart. Quarkus reads its
settings from system properties, which keeps the password off the command line: it goes in
through the environment (APICURIO_DATASOURCE_PASSWORD).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opdbus.config import Config
from opdbus.stack.distribution import find_java
from opdbus.stack.layout import Layout
from opdbus.stack.process import ManagedProcess, StackError, http_ok, require_free_port, wait_until

APICURIO_MIN_JAVA = 21


class Registry:
    name = "registry"

    def __init__(self, config: Config, layout: Layout, dist: Path | None) -> None:
        self.conf: dict[str, Any] = config.stack["registry"]
        self.config = config
        self.layout = layout
        self.dist = dist
        self.process = ManagedProcess("registry", layout.run, marker=str(layout.root))

    @property
    def endpoint(self) -> str:
        return f"http://{self.conf['host']}:{self.conf['port']}/apis/ccompat/v7"

    def alive(self) -> bool:
        return self.process.alive()

    def pid(self) -> int | None:
        return self.process.pid()

    def ready(self) -> bool:
        return http_ok(f"{self.endpoint}/subjects")

    def up(self, timeout_s: float) -> str:
        if self.alive():
            return "already running"
        for key in ("port", "management_port"):
            require_free_port(
                "Apicurio Registry",
                self.conf["host"],
                self.conf[key],
                f"OPDBUS_STACK__REGISTRY__{key.upper()}",
            )
        if self.dist is None:
            raise StackError("Apicurio Registry is not downloaded")
        pg = self.config.stack["postgres"]
        props = {
            "quarkus.http.host": self.conf["host"],
            "quarkus.http.port": self.conf["port"],
            "quarkus.management.host": self.conf["host"],
            "quarkus.management.port": self.conf["management_port"],
            "apicurio.storage.kind": "sql",
            "apicurio.storage.sql.kind": "postgresql",
            "apicurio.datasource.url": f"jdbc:postgresql://{pg['host']}:{pg['port']}/apicurio",
            "apicurio.datasource.username": pg["superuser"],
            # Marks the process as ours for `down` (see ManagedProcess).
            "opdbus.state.dir": self.layout.root,
        }
        argv = [
            find_java(APICURIO_MIN_JAVA, self.conf.get("java") or ""),
            f"-Xmx{self.conf['heap']}",
            *(f"-D{key}={value}" for key, value in props.items()),
            "-jar",
            str(self.dist / "apicurio" / "quarkus-run.jar"),
        ]
        log = self.layout.log("registry")
        env = {"APICURIO_DATASOURCE_PASSWORD": self.config.postgres_password()}
        proc = self.process.start(argv, log, env=env)
        wait_until("Apicurio Registry", self.ready, timeout_s, lambda: proc.poll() is None, log)
        return "started"

    def down(self) -> bool:
        return self.process.stop()
