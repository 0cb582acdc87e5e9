"""Where the local stack keeps its files, all under one state directory."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path
    cache: Path

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def dist(self) -> Path:
        return self.cache / "dist"

    def data(self, service: str) -> Path:
        return self.root / "data" / service

    def log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def conf(self, name: str) -> Path:
        return self.root / "conf" / name

    def secret(self, name: str) -> str:
        """A generated secret, created once, readable by the owner only."""
        path = self.root / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.parent.chmod(0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def prepare(self) -> None:
        for path in (self.run, self.logs, self.dist, self.root / "conf"):
            path.mkdir(parents=True, exist_ok=True)
        # The postgres user must traverse into data/postgres when we run as root.
        self.root.chmod(0o755)
        (self.root / "data").mkdir(exist_ok=True)
        (self.root / "data").chmod(0o755)
