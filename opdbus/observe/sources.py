"""What the config says about each source that observation needs: its topics, its slot."""

from __future__ import annotations

import re
from dataclasses import dataclass

from opdbus.config import Config


@dataclass(frozen=True)
class CdcSlot:
    source: str
    database: str
    slot: str


def _topics_of(spec: dict, declared: list[str]) -> list[str]:
    named = [table["topic"] for table in (spec.get("tables") or {}).values()]
    if spec.get("topic"):
        named.append(spec["topic"])
    out: list[str] = []
    for topic in named:
        if "{" not in topic:
            out.append(topic)
            continue
        # A templated topic ("opd.{opd}.kinerja"): every declared topic it can produce.
        pattern = re.compile("^" + re.sub(r"\\\{\w+\\\}", r"[^.]+", re.escape(topic)) + "$")
        out.extend(name for name in declared if pattern.match(name))
    return sorted(set(out))


def source_topics(config: Config) -> dict[str, list[str]]:
    """source -> the topics its connector publishes to."""
    declared = list(config.topics)
    return {name: _topics_of(spec, declared) for name, spec in config.section("sources").items()}


def cdc_slots(config: Config) -> list[CdcSlot]:
    return [
        CdcSlot(name, spec["database"], spec["slot"])
        for name, spec in config.section("sources").items()
        if spec.get("connector") == "cdc"
    ]
