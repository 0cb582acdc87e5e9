"""The CDC source's configuration is checked when the connector is built, before any I/O."""

from __future__ import annotations

import pytest

from opdbus.config import ConfigError
from opdbus.connectors.cdc import build


def test_the_shipped_siak_source_builds(config):
    spec = config.section("sources")["siak"]
    connector = build(config, "siak", spec, publisher=None)  # type: ignore[arg-type]
    assert (connector.slot_name, connector.batch_size, connector.poll_s) == (
        "opdbus_siak",
        5000,
        0.05,
    )


@pytest.mark.parametrize("missing", ["opd", "database", "slot", "tables"])
def test_a_source_without_a_required_key_is_refused_naming_it(config, missing):
    spec = {k: v for k, v in config.section("sources")["siak"].items() if k != missing}
    with pytest.raises(ConfigError, match=f"sources.siak: CDC needs .*missing '{missing}'"):
        build(config, "siak", spec, publisher=None)  # type: ignore[arg-type]
