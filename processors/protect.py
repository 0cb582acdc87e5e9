"""Keyed pseudonyms of NIK: HMAC-SHA-256 under a secret key, named by a key id.

Analysts count, join and follow a citizen across integrated topics by pseudonym, never by NIK.
Without the key a pseudonym cannot be reversed or recomputed from a guessed NIK (a plain hash
could: NIKs are a small, structured space). Rotation: a new key id gives new pseudonyms; the
sink keeps the key id beside every pseudonym, so mixed periods are visible, and a replay under
the new key re-pseudonymises everything (docs/decisions/0008-processors.md).
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from opdbus.config import Config, ConfigError
from opdbus.stack.layout import Layout

KEY_ENV = "OPDBUS_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class Pseudonymizer:
    key: bytes
    key_id: str

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"pseudonym key {self.key_id!r} is {len(self.key)} bytes; at least "
                f"{MIN_KEY_BYTES} are needed"
            )

    def pseudonym(self, nik: str) -> str:
        return hmac.digest(self.key, nik.encode(), "sha256").hex()


def load(config: Config) -> Pseudonymizer:
    """The key from OPDBUS_PSEUDONYM_KEY, else pseudonym.key_file, else (local stack only) a
    key generated once into the state directory's secrets."""
    conf = config.section("processors")["pseudonym"]
    key_id = conf["key_id"]
    if os.environ.get(KEY_ENV):
        return Pseudonymizer(os.environ[KEY_ENV].encode(), key_id)
    if conf.get("key_file"):
        path = Path(conf["key_file"])
        if not path.exists():
            raise ConfigError(f"pseudonym key file {path} does not exist (processors.pseudonym)")
        return Pseudonymizer(path.read_bytes().strip(), key_id)
    layout = Layout(config.state_dir, config.cache_dir)
    return Pseudonymizer(layout.secret(f"pseudonym-{key_id}").encode(), key_id)
