"""Shared fixtures: the configuration every test reads."""

from __future__ import annotations

import pytest

from opdbus import config as config_module
from opdbus.config import Config


@pytest.fixture(scope="session")
def config() -> Config:
    return config_module.load()
