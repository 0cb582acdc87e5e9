"""Prometheus from Debian's packages, scraping every opdbus component.

config/prometheus/prometheus.yml is shared with compose; here its relative paths are made
absolute and its file_sd targets point at a file generated from config (metrics.ports).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from opdbus.config import REPO_ROOT, Config
from opdbus.stack.layout import Layout
from opdbus.stack.process import ManagedProcess, StackError, http_ok, require_free_port, wait_until

CONFIG_DIR = REPO_ROOT / "config" / "prometheus"


def local_targets(config: Config) -> list[dict[str, Any]]:
    metrics = config.section("metrics")
    return [
        {"targets": [f"{metrics['host']}:{port}"], "labels": {"component": component}}
        for component, port in metrics["ports"].items()
    ]


def local_config(config: Config, targets_file: str) -> dict[str, Any]:
    shipped = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text())
    shipped["rule_files"] = [str(CONFIG_DIR / path) for path in shipped.get("rule_files", [])]
    for job in shipped.get("scrape_configs", []):
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [targets_file]
    return shipped


class Prometheus:
    name = "prometheus"

    def __init__(self, config: Config, layout: Layout) -> None:
        self.conf: dict[str, Any] = config.stack["prometheus"]
        self.config = config
        self.layout = layout
        self.config_file = layout.conf("prometheus.yml")
        self.process = ManagedProcess("prometheus", layout.run, marker=str(self.config_file))

    @property
    def endpoint(self) -> str:
        return f"http://{self.conf['host']}:{self.conf['port']}"

    def alive(self) -> bool:
        return self.process.alive()

    def pid(self) -> int | None:
        return self.process.pid()

    def ready(self) -> bool:
        return http_ok(f"{self.endpoint}/-/ready")

    def write_targets(self) -> Path:
        """The scrape targets from config; a running Prometheus re-reads the file by itself."""
        targets = self.layout.conf("prometheus-targets.yml")
        targets.write_text(yaml.safe_dump(local_targets(self.config)))
        return targets

    def up(self, timeout_s: float) -> str:
        if self.alive():
            self.write_targets()  # metrics.ports may have grown since it started
            return "already running"
        binary = shutil.which("prometheus")
        if binary is None:
            raise StackError("prometheus not found: install it (apt-get install prometheus)")
        require_free_port(
            "Prometheus", self.conf["host"], self.conf["port"], "OPDBUS_STACK__PROMETHEUS__PORT"
        )
        targets = self.write_targets()
        self.config_file.write_text(yaml.safe_dump(local_config(self.config, str(targets))))
        argv = [
            binary,
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.layout.data('prometheus')}",
            f"--storage.tsdb.retention.time={self.conf['retention']}",
            f"--web.listen-address={self.conf['host']}:{self.conf['port']}",
            "--web.enable-lifecycle",
        ]
        log = self.layout.log("prometheus")
        proc = self.process.start(argv, log)
        wait_until("Prometheus", self.ready, timeout_s, lambda: proc.poll() is None, log)
        return "started"

    def down(self) -> bool:
        return self.process.stop()
