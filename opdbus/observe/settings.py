"""The `observe` section of config/opdbus.yaml, read once into typed settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from opdbus.config import Config, ConfigError


@dataclass(frozen=True)
class ObserveSettings:
    interval_s: float
    timeout_s: float
    include_groups: tuple[re.Pattern[str], ...]
    exclude_groups: tuple[re.Pattern[str], ...]
    # source -> seconds it may go without a new event; sources not listed are never "silent".
    expected_interval_s: dict[str, float]
    slot_lag_warn_bytes: int
    consumer_lag_warn_messages: int
    one_shot_components: frozenset[str]

    def watches_group(self, group: str) -> bool:
        """Only the groups we name: a group id is a label value, so it must come from a
        bounded set (throwaway groups of tests and read-backs would grow it forever)."""
        return any(p.search(group) for p in self.include_groups) and not any(
            p.search(group) for p in self.exclude_groups
        )


def _patterns(section: dict[str, Any], key: str) -> tuple[re.Pattern[str], ...]:
    try:
        return tuple(re.compile(p) for p in section.get(key) or [])
    except re.error as exc:
        raise ConfigError(f"observe.{key}: bad regular expression: {exc}") from exc


def load_settings(config: Config) -> ObserveSettings:
    section = config.section("observe")
    try:
        expected = {
            str(source): float(seconds)
            for source, seconds in (section.get("expected_interval_s") or {}).items()
            if seconds  # 0 or empty: silence is normal for this source
        }
        return ObserveSettings(
            interval_s=float(section["interval_s"]),
            timeout_s=float(section["timeout_s"]),
            include_groups=_patterns(section, "include_groups"),
            exclude_groups=_patterns(section, "exclude_groups"),
            expected_interval_s=expected,
            slot_lag_warn_bytes=int(section["slot_lag_warn_bytes"]),
            consumer_lag_warn_messages=int(section["consumer_lag_warn_messages"]),
            one_shot_components=frozenset(section.get("one_shot_components") or []),
        )
    except KeyError as exc:
        raise ConfigError(f"config observe.{exc.args[0]} is missing") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config observe: {exc}") from exc
