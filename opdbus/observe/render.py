"""`opdbus status` as text: one screen, sections in the order an operator asks."""

from __future__ import annotations

from typing import Any

from opdbus.observe.status import human_bytes, human_seconds


def _section(lines: list[str], title: str) -> None:
    if lines:
        lines.append("")
    lines.append(title)


def render(rep: dict[str, Any]) -> str:
    lines: list[str] = []
    if rep["stack"] is not None:
        _section(lines, "local stack")
        lines += [f"  {name:<24} {state}" for name, state in rep["stack"].items()]

    prom = rep["prometheus"]
    _section(lines, f'components (up{{job="opdbus"}} from Prometheus {prom["url"]})')
    if prom["error"]:
        lines.append(f"  PROMETHEUS UNREACHABLE: {prom['error']}")
    lines += [f"  {name:<24} {state}" for name, state in rep["components"].items()]

    for target, error in rep["unreachable"].items():
        lines.append(f"  cannot reach {target}: {error}")

    _section(lines, "consumer lag (messages, from the broker)")
    if not rep["consumer_lag"]:
        lines.append("  no watched group has committed offsets (observe.include_groups)")
    for group, info in rep["consumer_lag"].items():
        lines.append(f"  {group:<40} {info['total']:>10}")
        for topic, parts in info["topics"].items():
            detail = " ".join(f"{p}:{lag}" for p, lag in parts.items())
            lines.append(f"    {topic:<38} {sum(parts.values()):>10}  [{detail}]")

    _section(lines, "replication slots (WAL held back)")
    if not rep["slots"]:
        lines.append("  no CDC source could be read")
    for source, slot in rep["slots"].items():
        if not slot["exists"]:
            state = "no slot yet (connector never started)"
        elif slot["lag_bytes"] is None:
            state = f"invalidated ({slot['wal_status']})"
        else:
            state = human_bytes(slot["lag_bytes"])
        lines.append(f"  {source:<14} {slot['slot']:<24} {state}")

    _section(lines, "freshness (newest message on the source's topics)")
    for source, info in rep["freshness"].items():
        seconds, expected = info["seconds"], info["expected_within_s"]
        age = "no events yet" if seconds is None else f"{human_seconds(seconds)} ago"
        limit = f"expected within {human_seconds(expected)}" if expected else "no limit"
        lines.append(f"  {source:<14} {age:<16} ({limit})")

    _section(lines, "dead letters (messages ever written)")
    if not rep["dead_letters"]:
        lines.append("  no dlq.* topic could be read")
    lines += [f"  {topic:<38} {count:>10}" for topic, count in rep["dead_letters"].items()]

    lines.append("")
    if rep["healthy"]:
        lines.append("HEALTHY")
    else:
        lines.append(f"UNHEALTHY ({len(rep['problems'])}):")
        lines += [f"  - {problem}" for problem in rep["problems"]]
    return "\n".join(lines)
