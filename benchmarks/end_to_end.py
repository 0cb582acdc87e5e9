"""The whole pipeline: source commit to unified-view row (issue 5's end-to-end benchmark).

    .venv/bin/python benchmarks/end_to_end.py [--rate 1000] [--duration 60]

Needs the local stack and the bus running with simulated systems set up (`opdbus demo` leaves
exactly that). Drives `opdbus simulate run` at --rate activities/s, then waits until the
pipeline has drained, and reads two things from the sink's /metrics before and after: rows
applied (`opdbus_sink_rows_total`) and the end-to-end latency histogram
(`opdbus_end_to_end_seconds`: sink commit time minus the source's commit time, per row).
Prints rows/s sustained and p50/p99 (interpolated within histogram buckets; the bucket is
named). The baseline in the same run is Kafka's ProducerPerformance at the same rate.
Asserts nothing: the machine is shared.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from opdbus import config as config_module
from opdbus.demo import wait_drained
from opdbus.kafka import ensure_topics, make_admin, topic_spec
from opdbus.stack import distribution
from opdbus.stack.bus import Bus
from opdbus.stack.manager import Stack


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    values: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        values[name] += float(value)
    return values


def histogram(
    values: dict[str, float], metric: str, table: str | None = None
) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) summed over every label set (or one table's)."""
    buckets: dict[float, float] = defaultdict(float)
    for name, count in values.items():
        if name.startswith(f"{metric}_bucket{{") and (table is None or f'table="{table}"' in name):
            bound = name.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] += count
    return sorted(buckets.items())


def quantile(buckets: list[tuple[float, float]], q: float) -> tuple[float, str]:
    total = buckets[-1][1] if buckets else 0
    if not total:
        return float("nan"), "no rows"
    want, low, below = q * total, 0.0, 0.0
    for bound, count in buckets:
        if count >= want:
            if bound == float("inf"):
                return low, f"> {low:g} s"
            share = (want - below) / max(count - below, 1e-9)
            return low + (bound - low) * share, f"({low:g}, {bound:g}] s"
        low, below = bound, count
    return low, "?"


def delta(after: list[tuple[float, float]], before: list[tuple[float, float]]):
    old = dict(before)
    return [(bound, count - old.get(bound, 0.0)) for bound, count in after]


def producer_baseline(config, stack: Stack, rate: float, records: int) -> str:
    topic = "bench.e2e.baseline"  # topics are never auto-created on this broker
    ensure_topics(make_admin(config), [topic_spec(topic, 6)])
    out = distribution.kafka_tool(
        stack.layout,
        "ProducerPerformance",
        *("--topic", topic, "--num-records", str(records), "--record-size", "400"),
        *("--throughput", str(int(rate)), "--producer-props"),
        *(f"bootstrap.servers={config.bootstrap_servers}", "acks=all"),
        check=False,
    )
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else out.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000, help="simulator activities/s")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--drain-timeout", type=float, default=1800)
    args = parser.parse_args()
    config = config_module.load()
    Bus(config).require_running()
    port = config.section("metrics")["ports"]["sink"]
    url = f"http://{config.section('metrics')['host']}:{port}/metrics"
    before = scrape(url)
    started = time.monotonic()
    opdbus = str(Path(sys.executable).parent / "opdbus")
    subprocess.run(
        [
            opdbus,
            "simulate",
            "run",
            "--rate",
            str(args.rate),
            "--duration",
            str(args.duration),
            "--quiet",
        ],
        check=True,
    )
    written = time.monotonic() - started
    wait_drained(config, timeout_s=args.drain_timeout, settle_s=3)
    drained = time.monotonic() - started
    after = scrape(url)
    rows = sum(v for k, v in after.items() if k.startswith("opdbus_sink_rows_total{")) - sum(
        v for k, v in before.items() if k.startswith("opdbus_sink_rows_total{")
    )
    buckets = delta(
        histogram(after, "opdbus_end_to_end_seconds"),
        histogram(before, "opdbus_end_to_end_seconds"),
    )
    p50, where50 = quantile(buckets, 0.5)
    p99, where99 = quantile(buckets, 0.99)
    baseline = producer_baseline(config, Stack(config), args.rate, int(args.rate * 10))
    print(f"\nKafka ProducerPerformance at {args.rate:,.0f}/s (baseline): {baseline}")
    print(
        f"simulator: {args.rate:,.0f} activities/s for {written:.0f}s; drained after {drained:.0f}s"
    )
    print(
        f"unified-view rows applied: {rows:,.0f} = {rows / drained:,.0f} rows/s sustained "
        f"(target >= 10,000 events/s)"
    )
    print(
        f"source commit -> view row: p50 {p50:.2f}s {where50}, p99 {p99:.2f}s {where99} "
        f"(target p99 <= 1 s at 1,000 events/s)"
    )
    tables = sorted({k.split('table="', 1)[1].split('"', 1)[0] for k in after if 'table="' in k})
    for table in tables:  # sources differ: CDC streams, polling and file drop wait a second
        rows_of = delta(
            histogram(after, "opdbus_end_to_end_seconds", table),
            histogram(before, "opdbus_end_to_end_seconds", table),
        )
        if rows_of and rows_of[-1][1]:
            t50, _ = quantile(rows_of, 0.5)
            t99, at99 = quantile(rows_of, 0.99)
            print(
                f"  {table:<12} {rows_of[-1][1]:>8,.0f} rows  p50 {t50:.2f}s  p99 {t99:.2f}s {at99}"
            )


if __name__ == "__main__":
    main()
