"""`opdbus status`: every health signal on one screen, and the list of what is wrong.

Components come from Prometheus (`up{job="opdbus"}`), the local stack's services from the
stack manager; lag, slots, freshness and dead letters are read directly from the broker and
PostgreSQL (collect.py), so status still tells something when Prometheus itself is down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opdbus.config import Config
from opdbus.observe import figures
from opdbus.observe.broker import Broker
from opdbus.observe.collect import Snapshot, read_snapshot
from opdbus.observe.prom import PrometheusUnavailable, component_states
from opdbus.observe.settings import ObserveSettings
from opdbus.stack.manager import Stack

UNHEALTHY_EXIT = 3  # as `opdbus stack status`


@dataclass
class Inputs:
    """Everything status looked at; `problems` turns it into verdicts."""

    snapshot: Snapshot
    configured_components: list[str]
    prometheus_url: str
    components: dict[str, bool] | None  # None: Prometheus unreachable
    prometheus_error: str | None = None
    stack_services: dict[str, str] | None = None  # None: not using the local stack
    notes: list[str] = field(default_factory=list)


def uses_local_stack(config: Config) -> bool:
    """With an external broker (compose, production) the local stack's processes are moot."""
    return not config.section("kafka").get("bootstrap.servers")


def gather(config: Config, settings: ObserveSettings) -> Inputs:
    stack_services = None
    if uses_local_stack(config):
        services = Stack(config).status()["services"]
        stack_services = {name: svc["state"] for name, svc in services.items()}
    snap = read_snapshot(config, settings, Broker(config, settings.timeout_s))
    try:
        components: dict[str, bool] | None = component_states(
            config.prometheus_url, settings.timeout_s
        )
        error = None
    except PrometheusUnavailable as exc:
        components, error = None, str(exc)
    return Inputs(
        snapshot=snap,
        configured_components=list(config.section("metrics")["ports"]),
        prometheus_url=config.prometheus_url,
        components=components,
        prometheus_error=error,
        stack_services=stack_services,
    )


def component_table(inputs: Inputs, settings: ObserveSettings) -> dict[str, str]:
    """component -> up | down | one-shot, not running | not scraped | unknown."""
    names = sorted(set(inputs.configured_components) | set(inputs.components or {}))
    table: dict[str, str] = {}
    for name in names:
        if inputs.components is None:
            table[name] = "unknown"
        elif name not in inputs.components:
            table[name] = "not scraped"
        elif inputs.components[name]:
            table[name] = "up"
        elif name in settings.one_shot_components:
            table[name] = "one-shot, not running"
        else:
            table[name] = "down"
    return table


def problems(inputs: Inputs, settings: ObserveSettings) -> list[str]:
    found: list[str] = []
    for name, state in (inputs.stack_services or {}).items():
        if state != "up":
            found.append(f"stack service {name} is {state}")
    if inputs.prometheus_error:
        found.append(f"{inputs.prometheus_error}: component states unknown")
    for name, state in component_table(inputs, settings).items():
        if state == "down":
            found.append(f"{name} is down (Prometheus cannot scrape it)")
        elif state == "not scraped":
            # The local stack writes its targets from metrics.ports when Prometheus starts.
            found.append(f"{name} is configured in metrics.ports but not a Prometheus target")
    snap = inputs.snapshot
    for target, error in sorted(snap.errors.items()):
        found.append(f"cannot reach {target}: {error}")
    for group, total in figures.group_totals(snap.consumer_lag).items():
        if total > settings.consumer_lag_warn_messages:
            found.append(
                f"consumer group {group} lags {total} messages "
                f"(over {settings.consumer_lag_warn_messages})"
            )
    for reading in snap.slots.values():
        if reading.wal_status == "lost":
            found.append(
                f"replication slot {reading.slot} of {reading.source} was invalidated "
                "(WAL removed): the source needs a new snapshot"
            )
        elif reading.lag_bytes is not None and reading.lag_bytes > settings.slot_lag_warn_bytes:
            found.append(
                f"replication slot {reading.slot} of {reading.source} holds "
                f"{human_bytes(reading.lag_bytes)} of WAL "
                f"(over {human_bytes(settings.slot_lag_warn_bytes)})"
            )
    for source, age in snap.freshness.items():
        expected = settings.expected_interval_s.get(source)
        if age is not None and expected is not None and age > expected:
            found.append(
                f"source {source} silent for {human_seconds(age)} "
                f"(expected an event within {human_seconds(expected)})"
            )
    return found


def report(inputs: Inputs, settings: ObserveSettings) -> dict[str, Any]:
    """The JSON form; the text form renders the same dict."""
    snap = inputs.snapshot
    lag: dict[str, dict[str, Any]] = {}
    for row in snap.consumer_lag:
        group = lag.setdefault(row.group, {"total": 0, "topics": {}})
        group["total"] += row.lag
        group["topics"].setdefault(row.topic, {})[str(row.partition)] = row.lag
    found = problems(inputs, settings)
    return {
        "healthy": not found,
        "problems": found,
        "stack": inputs.stack_services,
        "prometheus": {"url": inputs.prometheus_url, "error": inputs.prometheus_error},
        "components": component_table(inputs, settings),
        "unreachable": dict(snap.errors),
        "consumer_lag": lag,
        "slots": {
            source: {
                "slot": r.slot,
                "exists": r.exists,
                "lag_bytes": r.lag_bytes,
                "wal_status": r.wal_status or None,
            }
            for source, r in snap.slots.items()
        },
        "freshness": {
            source: {
                "seconds": None if age is None else round(age, 1),
                "expected_within_s": settings.expected_interval_s.get(source),
            }
            for source, age in snap.freshness.items()
        },
        "dead_letters": dict(snap.dead_letters),
    }


def exit_code(rep: dict[str, Any]) -> int:
    return 0 if rep["healthy"] else UNHEALTHY_EXIT


def human_bytes(n: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, i = float(n), 0
    while abs(value) >= 1024 and i < len(units) - 1:
        value, i = value / 1024, i + 1
    return f"{value:.0f} B" if i == 0 else f"{value:.1f} {units[i]}"


def human_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"
