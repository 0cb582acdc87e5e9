"""Push API credentials: only hashes on disk, tokens matched to their OPD, edits take effect."""

from __future__ import annotations

import os
import stat

import pytest

from opdbus.config import ConfigError
from opdbus.connectors.http_push import credentials
from opdbus.connectors.http_push.credentials import Authenticator, Credential


def test_add_stores_only_the_sha256_of_the_token_in_a_private_file(tmp_path):
    path = tmp_path / "secrets" / "esakip.yaml"
    token = credentials.add(path, "dinkes")

    text = path.read_text()
    assert token not in text
    assert credentials.hash_token(token) in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [c.opd for c in credentials.read(path)] == ["dinkes"]


def test_tokens_are_long_random_and_distinct(tmp_path):
    path = tmp_path / "c.yaml"
    first, second = credentials.add(path, "dinkes"), credentials.add(path, "bkad")
    assert first != second
    assert len(first) >= 40


def test_a_token_authenticates_as_its_own_opd_only():
    creds = [
        Credential("dinkes", credentials.hash_token("tok-dinkes"), ""),
        Credential("bkad", credentials.hash_token("tok-bkad"), ""),
    ]
    assert credentials.match("tok-dinkes", creds) == "dinkes"
    assert credentials.match("tok-bkad", creds) == "bkad"
    assert credentials.match("tok-other", creds) is None
    assert credentials.match(credentials.hash_token("tok-dinkes"), creds) is None  # not the hash


def test_adding_twice_is_refused_unless_replacing_and_replacing_invalidates_the_old_token(tmp_path):
    path = tmp_path / "c.yaml"
    old = credentials.add(path, "dinkes")
    with pytest.raises(ConfigError, match="already has a token"):
        credentials.add(path, "dinkes")
    new = credentials.add(path, "dinkes", replace=True)
    creds = credentials.read(path)
    assert credentials.match(new, creds) == "dinkes"
    assert credentials.match(old, creds) is None


def test_opd_must_be_a_slug(tmp_path):
    with pytest.raises(ConfigError, match="slug"):
        credentials.add(tmp_path / "c.yaml", "Dinas Kesehatan")


def test_revoke_removes_the_opd_and_unknown_opd_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    token = credentials.add(path, "dinkes")
    credentials.revoke(path, "dinkes")
    assert credentials.match(token, credentials.read(path)) is None
    with pytest.raises(ConfigError, match="has no token"):
        credentials.revoke(path, "dinkes")


def test_authenticator_sees_additions_and_revocations_without_a_restart(tmp_path):
    path = tmp_path / "c.yaml"
    auth = Authenticator(path)  # a missing file holds no credentials
    assert auth.opd_for("anything") is None

    token = credentials.add(path, "dinkes")
    assert auth.opd_for(token) == "dinkes"
    credentials.revoke(path, "dinkes")
    assert auth.opd_for(token) is None


def test_a_broken_edit_keeps_the_last_good_credentials(tmp_path):
    path = tmp_path / "c.yaml"
    token = credentials.add(path, "dinkes")
    auth = Authenticator(path)
    path.write_text("dinkes: {token_sha256: not-a-hash}\n")
    assert auth.opd_for(token) == "dinkes"


def test_a_malformed_file_is_refused_at_start(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dinkes: {token_sha256: abc}\n")
    with pytest.raises(ConfigError, match="64 hex digits"):
        Authenticator(path)
