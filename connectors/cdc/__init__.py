"""PostgreSQL change data capture: wal2json logical decoding through the SQL interface.

`opdbus connect <source>` builds one CdcConnector per source whose `connector` is `cdc`; see
connector.py for the lifecycle and docs/decisions/0004-cdc.md for why nothing is lost.
"""

from __future__ import annotations

from typing import Any

from opdbus.config import Config
from opdbus.connectors.cdc.connector import CdcConnector
from opdbus.connectors.publisher import Publisher

__all__ = ["CdcConnector", "build"]


def build(config: Config, name: str, spec: dict[str, Any], publisher: Publisher) -> CdcConnector:
    return CdcConnector(config, name, spec, publisher)
