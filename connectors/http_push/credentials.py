"""Per-OPD bearer tokens for the push API, kept only as SHA-256 hashes in a YAML file.

The file (outside git, mode 0600) maps an OPD slug to its token's hash:
    dinkes: {token_sha256: 3f1c..., created_at: "2026-11-28T03:00:00+00:00"}
Tokens are 256 random bits, so a plain SHA-256 is enough (no salt or slow hash: there is no
dictionary to guess from), and a stolen file lets nobody push. The server re-reads the file
when it changes, so `opdbus credentials <source> add|revoke` takes effect without a restart.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opdbus.config import ConfigError

log = logging.getLogger("opdbus.connect.http_push")

TOKEN_PREFIX = "opdbus_"
OPD_SLUG = re.compile(r"[a-z][a-z0-9_]{1,39}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Credential:
    opd: str
    token_sha256: str
    created_at: str


def match(token: str, credentials: list[Credential]) -> str | None:
    """The OPD whose token this is, or None. Every stored hash is compared in constant time and
    none is skipped, so the answer's timing says nothing about which hash came close."""
    presented = hash_token(token).encode()
    found: str | None = None
    for credential in credentials:
        if hmac.compare_digest(presented, credential.token_sha256.encode()):
            found = credential.opd
    return found


def read(path: Path) -> list[Credential]:
    """The credentials in path; a missing file holds none. Raises ConfigError on a bad file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return []
    except yaml.YAMLError as exc:
        raise ConfigError(f"credentials file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"credentials file {path} must map an OPD to {{token_sha256: ...}}")
    found = []
    for opd, entry in data.items():
        digest = entry.get("token_sha256") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise ConfigError(f"credentials file {path}: {opd}.token_sha256 must be 64 hex digits")
        found.append(Credential(str(opd), digest, str(entry.get("created_at", ""))))
    return found


def _write(path: Path, credentials: list[Credential]) -> None:
    data: dict[str, Any] = {
        c.opd: {"token_sha256": c.token_sha256, "created_at": c.created_at}
        for c in sorted(credentials, key=lambda c: c.opd)
    }
    # Written beside the target then renamed, so the server never reads half a file.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(
                "# opdbus push API credentials: SHA-256 of each OPD's token. Keep out of git.\n"
            )
            yaml.safe_dump(data, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialises edits by concurrent CLI runs (read, change, write back)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def add(path: Path, opd: str, replace: bool = False) -> str:
    """Create a token for opd, store its hash, return the token (shown once, never stored)."""
    if not OPD_SLUG.fullmatch(opd):
        raise ConfigError(f"OPD {opd!r} must be a lower-case slug like dinkes or bkad")
    token = new_token()
    with _locked(path):
        existing = read(path)
        if not replace and any(c.opd == opd for c in existing):
            raise ConfigError(f"OPD {opd} already has a token; revoke it or pass --replace")
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        kept = [c for c in existing if c.opd != opd]
        _write(path, [*kept, Credential(opd, hash_token(token), now)])
    return token


def revoke(path: Path, opd: str) -> None:
    with _locked(path):
        existing = read(path)
        if not any(c.opd == opd for c in existing):
            raise ConfigError(f"OPD {opd} has no token in {path}")
        _write(path, [c for c in existing if c.opd != opd])


class Authenticator:
    """Answers "whose token is this?" from the file, re-read whenever it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._credentials: list[Credential] = []
        self._refresh(strict=True)

    def _refresh(self, strict: bool = False) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0, 0)
        if stamp == self._stamp:
            return
        try:
            self._credentials = read(self.path)
        except ConfigError:
            if strict:
                raise
            # A bad edit must not lock every OPD out: keep the last good set until it is fixed.
            log.exception("keeping the previous credentials")
        self._stamp = stamp

    @property
    def opds(self) -> list[str]:
        return [c.opd for c in self._credentials]

    def opd_for(self, token: str) -> str | None:
        self._refresh()
        return match(token, self._credentials)
