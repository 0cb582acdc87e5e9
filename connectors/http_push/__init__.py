"""HTTP push connector (e-SAKIP): OPD apps POST JSON batches, the bus answers 202 after Kafka.

`opdbus connect esakip` serves the API of docs/connectors-brief.md; `opdbus credentials esakip
add|list|revoke` manages the per-OPD tokens. Design: docs/decisions/0006-http-push.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from opdbus import schemas
from opdbus.config import Config
from opdbus.connectors.publisher import Publisher

from .acks import GroupCommitter
from .credentials import Authenticator
from .events import Origin
from .server import PushServer, Settings

log = logging.getLogger("opdbus.connect.http_push")

DEFAULT_ENTITY = "kinerja"


def credentials_path(config: Config, name: str, spec: dict[str, Any]) -> Path:
    configured = spec.get("credentials_file") or ""
    return Path(configured) if configured else config.state_dir / "secrets" / f"{name}.yaml"


def build(config: Config, name: str, spec: dict[str, Any], publisher: Publisher) -> PushServer:
    entity = spec.get("entity", DEFAULT_ENTITY)
    system = spec.get("system", name)
    settings = Settings(
        source=name,
        host=spec.get("host", "127.0.0.1"),
        port=int(spec["port"]),
        max_body_bytes=int(spec.get("max_body_bytes", 1 << 20)),
        topic_pattern=spec["topic"],
        ack_timeout_s=float(spec.get("ack_timeout_s", 30)),
    )
    path = credentials_path(config, name, spec)
    authenticator = Authenticator(path)
    if not authenticator.opds:
        log.warning("no credentials in %s yet: `opdbus credentials %s add <opd>`", path, name)
    return PushServer(
        settings,
        topics=config.topics,
        entity_record=schemas.entity_versions(entity)[-1],
        origin=Origin(system, spec.get("database", system), entity, spec.get("key", ["id"])),
        authenticator=authenticator,
        committer=GroupCommitter(publisher, settings.ack_timeout_s),
    )
