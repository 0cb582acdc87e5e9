"""Simulation settings: simulator/defaults.yaml, an optional YAML file over it, then overrides."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opdbus.config import deep_merge, read_yaml

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")

Settings = dict[str, Any]


def load(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The defaults, then the file at `path`, then `overrides` (nested dicts), deep-merged."""
    settings = read_yaml(DEFAULTS_FILE, "settings file")
    if path is not None:
        deep_merge(settings, read_yaml(path, "settings file"))
    if overrides:
        deep_merge(settings, overrides)
    return settings
