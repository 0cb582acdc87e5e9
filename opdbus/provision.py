"""Prepare a Kafka cluster and registry for the bus: schemas registered, topics declared.

Idempotent, so `opdbus init`, the demo and a deployment pipeline can all run it every time.
"""

from __future__ import annotations

from dataclasses import dataclass

from opdbus.config import Config
from opdbus.kafka import declared_topics, ensure_topics, make_admin
from opdbus.schema_cli import register


@dataclass(frozen=True)
class Provisioned:
    subjects: dict[str, list[int]]
    topics_created: list[str]
    topics_declared: int


def provision(config: Config) -> Provisioned:
    subjects = register(config)
    specs = declared_topics(config)
    created = ensure_topics(make_admin(config), specs)
    return Provisioned(subjects, created, len(specs))
