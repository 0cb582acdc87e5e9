"""`opdbus schemas check|register`: schemas/ is the source of truth, the registry follows it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from opdbus import compatibility, schemas
from opdbus.config import Config


def subject(topic: str) -> str:
    """Confluent's TopicNameStrategy: the value schema of topic T is subject T-value."""
    return f"{topic}-value"


def check(level: str) -> int:
    problems = compatibility.check_all(level)
    failed = {entity: found for entity, found in problems.items() if found}
    for entity, found in failed.items():
        for problem in found:
            print(f"schemas/{entity}: {problem}", file=sys.stderr)
    checked = len(problems)
    if failed:
        print(f"{len(failed)} of {checked} schemas break {level}", file=sys.stderr)
        return 1
    print(f"{checked} schemas, every version {level}-compatible with the earlier ones")
    return 0


def register(config: Config) -> dict[str, list[int]]:
    """Register every version of every topic's schema, oldest first, so the registry holds the
    same history as schemas/ and applies the same compatibility level to the next one."""
    level = config.section("registry")["compatibility"]
    client = SchemaRegistryClient(config.registry_client_conf())
    client.set_compatibility(level=level)
    registered: dict[str, list[int]] = {}
    for topic, spec in config.topics.items():
        if not spec.get("schema"):  # dead-letter topics carry the failed input as it came
            continue
        name = subject(topic)
        client.set_compatibility(subject_name=name, level=level)
        registered[name] = [
            client.register_schema(name, Schema(json.dumps(version), "AVRO"))
            for version in schemas.subject_versions(spec["schema"])
        ]
    return registered


def _run(args: argparse.Namespace, config: Config) -> int:
    level: str = args.level or config.section("registry")["compatibility"]
    if args.action == "check":
        return check(level)
    ids: dict[str, Any] = register(config)
    for name, schema_ids in ids.items():
        print(f"{name:<40} schema ids {schema_ids}")
    print(f"{len(ids)} subjects registered at {config.registry_url} ({level})")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "schemas",
        help="check schema compatibility, register schemas",
        description="check: refuse a schema change that breaks the compatibility level "
        "(no network). register: register every topic's schema versions and set the level.",
    )
    parser.add_argument("action", choices=["check", "register"])
    parser.add_argument(
        "--level",
        choices=[level.value for level in compatibility.Level],
        help="default: registry.compatibility",
    )
    parser.set_defaults(run=_run)
