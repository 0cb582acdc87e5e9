"""Simulation settings: simulator/defaults.yaml, an optional YAML file over it, then overrides."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from opdbus.config import ConfigError

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")

Settings = dict[str, Any]


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"settings file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"settings file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {path} must hold a mapping")
    return data


def load(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The defaults, then the file at `path`, then `overrides` (nested dicts), deep-merged."""
    settings = _read(DEFAULTS_FILE)
    if path is not None:
        _merge(settings, _read(path))
    if overrides:
        _merge(settings, overrides)
    return settings
