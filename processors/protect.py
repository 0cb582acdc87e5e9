"""Keyed pseudonyms of NIK: HMAC-SHA-256 under a secret key, named by a key id.

Analysts count, join and follow a citizen across integrated topics by pseudonym, never by NIK.
Without the key a pseudonym cannot be reversed or recomputed from a guessed NIK (a plain hash
could: NIKs are a small, structured space). Rotation: a new key id gives new pseudonyms; the
sink keeps the key id beside every pseudonym, so mixed periods are visible, and a replay under
the new key re-pseudonymises everything (docs/decisions/0008-processors.md).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opdbus.config import Config, ConfigError
from opdbus.stack.layout import Layout

KEY_ENV = "OPDBUS_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32
BLOCK = 64  # SHA-256's block size, in bytes


@dataclass(frozen=True)
class Pseudonymizer:
    key: bytes
    key_id: str
    _inner: Any = field(init=False, repr=False, compare=False)
    _outer: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"pseudonym key {self.key_id!r} is {len(self.key)} bytes; at least "
                f"{MIN_KEY_BYTES} are needed"
            )
        # HMAC (RFC 2104) with its two keyed hash states made once: a copy of each per NIK
        # costs a third of hmac.digest, which keys both again on every call.
        key = self.key if len(self.key) <= BLOCK else hashlib.sha256(self.key).digest()
        key = key.ljust(BLOCK, b"\0")
        object.__setattr__(self, "_inner", hashlib.sha256(bytes(b ^ 0x36 for b in key)))
        object.__setattr__(self, "_outer", hashlib.sha256(bytes(b ^ 0x5C for b in key)))

    def pseudonym(self, nik: str) -> str:
        inner = self._inner.copy()
        inner.update(nik.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


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
