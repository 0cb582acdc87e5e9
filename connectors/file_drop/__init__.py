"""File-drop connector (Bappeda planning targets): CSV and XLSX exports dropped in a folder.

A file is read once it is complete (not a dotfile or `*.part`/`*.tmp`, size and mtime the same
in two scans), each row is validated (schema and domain rules), valid rows are published,
rejected ones go to the dead-letter topic and to `<file>.rejected.csv` beside the file, and
once Kafka acknowledged everything the file's SHA-256 is recorded and the file moves to
`done/`. The same content dropped again, under any name, publishes nothing.
See docs/decisions/0005.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from opdbus import schemas
from opdbus.config import Config, ConfigError
from opdbus.connectors.offsets import OffsetStore
from opdbus.connectors.publisher import Publisher

from .connector import FileDropConnector
from .validate import TargetRows, opd_is_configured


def directory(config: Config, spec: dict[str, Any]) -> Path:
    configured = spec.get("directory") or ""
    path = Path(configured) if configured else config.state_dir / "drop" / "bappeda"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build(
    config: Config, name: str, spec: dict[str, Any], publisher: Publisher
) -> FileDropConnector:
    topic = spec.get("topic")
    if not topic:
        raise ConfigError(f"sources.{name}.topic is required for a file_drop source")
    publisher.encoder(topic)  # fails now, naming the topic, if it is not registered
    entity = schemas.entity_versions(publisher.entity(topic))[-1]
    return FileDropConnector(
        name,
        spec,
        publisher,
        directory(config, spec),
        TargetRows(entity, checks=(opd_is_configured,)),
        open_store=partial(OffsetStore, config, name),
    )
