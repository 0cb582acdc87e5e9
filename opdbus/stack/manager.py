"""`opdbus stack up|down|status`: the four services in dependency order."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from opdbus.config import Config, ConfigError
from opdbus.stack import distribution
from opdbus.stack.kafka import Kafka
from opdbus.stack.layout import Layout
from opdbus.stack.postgres import Postgres
from opdbus.stack.prometheus import Prometheus
from opdbus.stack.registry import Registry


def redact(url: str) -> str:
    """Hide a password in a URL for printing."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


class Service(Protocol):
    name: str

    @property
    def endpoint(self) -> str: ...
    def alive(self) -> bool: ...
    def pid(self) -> int | None: ...
    def up(self, timeout_s: float) -> str: ...
    def down(self) -> bool: ...


class Stack:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.layout = Layout(config.state_dir, config.cache_dir)

    def services(self, dist=None) -> list[Service]:
        """Start order: the registry stores schemas in PostgreSQL; Prometheus comes last."""
        return [
            Postgres(self.config, self.layout),
            Kafka(self.config, self.layout, dist),
            Registry(self.config, self.layout, dist),
            Prometheus(self.config, self.layout),
        ]

    def up(self, progress: Callable[[str], None] = print) -> float:
        started = time.monotonic()
        self.layout.prepare()
        dist = distribution.ensure_downloaded(self.layout, progress)
        timeout = float(self.config.stack["ready_timeout_s"])
        for service in self.services(dist):
            t0 = time.monotonic()
            outcome = service.up(timeout)
            progress(
                f"{service.name:<10} {outcome:<16} {redact(service.endpoint)}"
                f"  ({time.monotonic() - t0:.1f}s)"
            )
        return time.monotonic() - started

    def down(self, progress: Callable[[str], None] = print) -> None:
        for service in reversed(self.services()):
            progress(f"{service.name:<10} {'stopped' if service.down() else 'was not running'}")

    def status(self) -> dict[str, Any]:
        services = {
            s.name: {"state": "up" if s.alive() else "down", "pid": s.pid()}
            for s in self.services()
        }
        try:
            postgres = self.config.postgres_url("opdbus")
        except ConfigError:  # never started: no password generated yet
            pg = self.config.stack["postgres"]
            postgres = f"postgresql://{pg['superuser']}@{pg['host']}:{pg['port']}/opdbus"
        return {
            "kafka": self.config.bootstrap_servers,
            "registry": self.config.registry_url,
            "postgres": postgres,
            "prometheus": self.config.prometheus_url,
            "state_dir": str(self.layout.root),
            "services": services,
        }
