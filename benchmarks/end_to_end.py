"""The whole pipeline: source commit to unified-view row (issue 5's end-to-end benchmark).

    .venv/bin/python benchmarks/end_to_end.py [--rate 1000] [--duration 60]
    .venv/bin/python benchmarks/end_to_end.py --backlog 100000 [--cold]

Needs the local stack and the bus running with simulated systems set up (`opdbus demo` leaves
exactly that). Asserts nothing: the machine is shared.

Paced (default): drives `opdbus simulate run` at --rate activities/s, then waits until the
pipeline has drained, and reads two things from the sink's /metrics before and after: rows
applied (`opdbus_sink_rows_total`) and the end-to-end latency histogram
(`opdbus_end_to_end_seconds`: sink commit time minus the source's commit time, per row).
Prints rows/s sustained and p50/p99 (interpolated within histogram buckets; the bucket is
named), per table, and the same for the stages before the sink (source commit to the CDC
connectors' Kafka ack, and to the processor's output ack), from their own /metrics. The
baseline in the same run is Kafka's ProducerPerformance at the same rate.

Backlog (--backlog N): the pipeline's own ceiling, which a paced run cannot show once the
simulator is the slower side. Stops the connectors of the database sources (SIAK, licensing,
finance: their backlog waits in the source, in a replication slot or behind a cursor); writes
N activities into those sources as fast as the simulator can; starts the connectors again and
times how long the whole pipeline takes to carry everything from the sources to the view
(connectors, processor and sink working together, as they would through a city's busy hour).
The processor and the sink keep running, as they do in service; --cold stops and starts them
with the connectors, so their start-up (the processor's state, its consumer group) counts too.
The baseline in the same run is Kafka's ProducerPerformance at full speed, as many 400-byte
records as the connectors published. Applications that waited for an unknown citizen in an
earlier run are released as unmatched during a later one, a few dozen every
processors.release_check_s: such trickles after a stage's flow are not timed (--trickle).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opdbus import config as config_module
from opdbus.demo import backlog, wait_drained
from opdbus.kafka import ensure_topics, make_admin, topic_spec
from opdbus.observe.broker import Broker
from opdbus.stack import distribution
from opdbus.stack.bus import Bus, components
from opdbus.stack.manager import Stack
from opdbus.stack.process import StackError, cpu_seconds


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


# Their backlog waits in the source while their connector is down (a replication slot, a
# cursor); Bappeda's file drop and e-SAKIP's pushes are left out.
DATABASE_SOURCES = ("siak", "perizinan", "keuangan")


def stages(config) -> dict[str, tuple[list[str], str]]:
    """What each stage has done so far, from its own /metrics: (component names, counter)."""
    workers = [c.name for c in components(config) if c.argv[0] == "process"]
    return {
        "connectors": ([f"connector-{s}" for s in DATABASE_SOURCES], "opdbus_events_out_total"),
        "processor": (workers, "opdbus_processor_events_total"),
        "sink": (["sink"], "opdbus_sink_rows_total"),
    }


def simulate(*options: str) -> None:
    opdbus = str(Path(sys.executable).parent / "opdbus")
    subprocess.run([opdbus, "simulate", "run", *options, "--quiet"], check=True)


def counter(url: str, metric: str) -> float:
    """A counter summed over its labels; 0 while the process is not listening yet."""
    try:
        values = scrape(url)
    except OSError:
        return 0.0
    return sum(v for k, v in values.items() if k == metric or k.startswith(metric + "{"))


def label(cmdline: list[str]) -> str | None:
    """Which part of the stack or the bus a process is (None: not ours). PostgreSQL's
    connections are told apart by database: the sources' (decoding for CDC, polling), the
    unified view's (the sink), the registry's."""
    line = " ".join(cmdline)
    if line.startswith("postgres:"):  # a server process, titled by PostgreSQL
        words = line.split()
        if len(words) >= 4 and "(" in words[3]:  # postgres: <user> <database> <host(port)> ...
            return f"postgres, database {words[2]}"
        return "postgres, autovacuum" if "autovacuum" in line else "postgres, server"
    if "opdbus" in line and "--state-dir" in line:
        job = cmdline[cmdline.index("--state-dir") + 2 :]
        return " ".join(job[:2]) if job[:1] == ["connect"] else job[0]
    if "bin/postgres" in line:
        return "postgres, server"
    for marker, name in (
        ("kafka.Kafka", "kafka"),
        ("apicurio", "registry"),
        ("prometheus", "prometheus"),
    ):
        if marker in line:
            return name
    return None


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every process of the stack and the bus, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            name = label([part for part in cmdline if part])
            if name:
                found[int(entry.name)] = (name, cpu_seconds(int(entry.name)))
        except OSError:  # gone meanwhile
            continue
    return found


def machine_busy_s() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy (all cores; idle and iowait excluded), and
    of those the seconds the hypervisor gave to other guests (steal: a shared host's noise)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - ticks[3] - ticks[4]) / tick, ticks[7] / tick


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]):
    """CPU seconds per part between two snapshots (a process started since counts from 0)."""
    used: dict[str, float] = defaultdict(float)
    for pid, (name, seconds) in after.items():
        used[name] += seconds - before.get(pid, (name, 0.0))[1]
    return sorted(used.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000, help="simulator activities/s")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument(
        "--backlog", type=int, metavar="N", help="time the drain of N activities instead"
    )
    parser.add_argument(
        "--cold", action="store_true", help="with --backlog: restart the processor and sink too"
    )
    parser.add_argument("--settle", type=float, default=5, help="s without change = done")
    parser.add_argument(
        "--trickle",
        type=int,
        default=100,
        help="with --backlog: a sample moving a stage by at most this many events, more than "
        "a second after its last, is not the backlog's (events of earlier runs released as "
        "unmatched every processors.release_check_s)",
    )
    parser.add_argument("--drain-timeout", type=float, default=1800)
    args = parser.parse_args()
    config = config_module.load()
    Bus(config).require_running()
    metrics = config.section("metrics")
    urls = {
        name: f"http://{metrics['host']}:{port}/metrics" for name, port in metrics["ports"].items()
    }
    if args.backlog:
        drain(args, config, urls)
    else:
        paced(args, config, urls)


def drain(args: argparse.Namespace, config, urls: dict[str, str]) -> None:
    bus = Bus(config)
    by_stage = stages(config)
    restarted = by_stage if args.cold else ["connectors"]
    names = [name for stage in restarted for name in by_stage[stage][0]]
    bus.down(names=names, progress=lambda line: print(f"  {line}"))
    print(f"writing {args.backlog:,} activities into {', '.join(DATABASE_SOURCES)} (no reader)")
    started = time.monotonic()
    simulate(
        "--no-pace", "--activities", str(args.backlog), "--systems", ",".join(DATABASE_SOURCES)
    )
    print(f"  written in {time.monotonic() - started:.0f}s")
    broker = Broker(config, timeout_s=10)

    def done() -> dict[str, float]:
        return {
            stage: sum(counter(urls[c], metric) for c in stage_components)
            for stage, (stage_components, metric) in by_stage.items()
        }

    base = done()  # a running process's counters already count earlier work
    totals = dict.fromkeys(by_stage, 0.0)
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    cpu_before, busy_before = cpu_by_process(), machine_busy_s()
    busy_to_last_row = busy_before[0]
    began = time.monotonic()
    # Started beside the sampling (each start waits for the process's /metrics), so the
    # first event is seen when it happens.
    starting = ThreadPoolExecutor(1).submit(bus.up, names=names, progress=lambda line: None)
    while True:
        if starting.done():
            starting.result()  # raises if a process failed to start
        now = time.monotonic()
        for stage, value in done().items():
            value -= base[stage]
            moved, totals[stage] = value - totals[stage], value
            in_flow = now - last.get(stage, now) <= 1.0
            if moved > args.trickle or (moved and in_flow):
                last[stage] = now
                first.setdefault(stage, now)
                if stage == "sink":  # the machine's CPU up to the last view row
                    busy_to_last_row = machine_busy_s()[0]
        print(
            f"\r  {now - began:5.0f}s  "
            + "  ".join(f"{stage} {int(n):,}" for stage, n in totals.items()),
            end="",
            flush=True,
        )
        quiet = all(now - last.get(stage, now) >= args.settle for stage in by_stage)
        if "sink" in last and quiet and backlog(config, broker) == 0:
            break
        if now - began > args.drain_timeout:
            raise StackError(f"not drained after {args.drain_timeout:.0f}s")
        time.sleep(0.5)
    print()
    busy_after = machine_busy_s()
    cpu = cpu_used(cpu_before, cpu_by_process())
    busy, steal = (after - before for after, before in zip(busy_after, busy_before, strict=True))
    wall = time.monotonic() - began  # CPU is counted to here, the settle time included
    events, rows = totals["connectors"], totals["sink"]
    baseline = producer_baseline(config, Stack(config), -1, int(events))
    took = last["sink"] - began
    flowing = last["sink"] - first["connectors"]
    print(
        f"\nKafka ProducerPerformance, full speed, {int(events):,} x 400 B (baseline): {baseline}"
    )
    print(f"source events published by the connectors: {events:,.0f}")
    for stage in by_stage:
        print(
            f"  {stage:<10} {totals[stage]:>10,.0f}  first at {first[stage] - began:5.1f}s, "
            f"done at {last[stage] - began:5.1f}s"
        )
    print(
        f"whole pipeline, start of the {' and '.join(restarted)} to the last view row: "
        f"{took:.1f}s = "
        f"{events / took:,.0f} source events/s ({rows / took:,.0f} view rows/s)"
        f"  [target >= 10,000 events/s sustained]"
    )
    if flowing > 0:  # a backlog so small that one sample saw it all has no rate
        print(
            f"from the first event published: {flowing:.1f}s = "
            f"{events / flowing:,.0f} source events/s"
        )
    print(f"CPU per source event, by process ({wall:.0f}s, {os.cpu_count()} cores):")
    for name, seconds in cpu:
        share = seconds / wall
        print(f"  {name:<28} {seconds / events * 1e6:7.1f} us  ({share:.2f} of a core)")
    total = sum(seconds for _, seconds in cpu)
    print(
        f"  {'all of the above':<28} {total / events * 1e6:7.1f} us  ({total / wall:.2f} of a core)"
    )
    print(
        f"  {'the whole machine':<28} {busy / events * 1e6:7.1f} us  ({busy / wall:.2f} of a core)"
    )
    print(f"  {'of which stolen by the host':<28} {steal:7.1f} s   ({steal / wall:.2f} of a core)")
    # The shares above include the settle time after the last row, when little runs.
    cores_to_last_row = (busy_to_last_row - busy_before[0]) / took
    print(f"the whole machine from the start to the last view row: {cores_to_last_row:.2f} cores")


# Where the delay builds up, each stage's histogram from the source's commit to its own step.
STAGE_DELAYS = (
    ("CDC connectors -> Kafka ack", "opdbus_source_to_ack_seconds"),
    ("processor -> output ack", "opdbus_processor_processing_seconds"),
)


def spread(
    before: dict[str, float], after: dict[str, float], metric: str, table: str | None = None
) -> tuple[float, float, float, str]:
    """Rows, p50, p99 and the p99's bucket of a histogram's growth between two scrapes."""
    grown = delta(histogram(after, metric, table), histogram(before, metric, table))
    p50, _ = quantile(grown, 0.5)
    p99, where99 = quantile(grown, 0.99)
    return (grown[-1][1] if grown else 0.0), p50, p99, where99


def scrape_all(urls: dict[str, str]) -> dict[str, float]:
    values: dict[str, float] = defaultdict(float)
    for url in urls.values():
        for name, value in scrape(url).items():
            values[name] += value
    return values


def paced(args: argparse.Namespace, config, urls: dict[str, str]) -> None:
    sources = config.section("sources")
    cdc = [f"connector-{name}" for name, s in sources.items() if s["connector"] == "cdc"]
    workers = stages(config)["processor"][0]
    stage_urls = {name: urls[name] for name in [*cdc, *workers] if name in urls}
    before, stages_before = scrape(urls["sink"]), scrape_all(stage_urls)
    started = time.monotonic()
    simulate("--rate", str(args.rate), "--duration", str(args.duration))
    written = time.monotonic() - started
    wait_drained(config, timeout_s=args.drain_timeout, settle_s=3)
    drained = time.monotonic() - started
    after, stages_after = scrape(urls["sink"]), scrape_all(stage_urls)
    rows = sum(v for k, v in after.items() if k.startswith("opdbus_sink_rows_total{")) - sum(
        v for k, v in before.items() if k.startswith("opdbus_sink_rows_total{")
    )
    _, p50, p99, where99 = spread(before, after, "opdbus_end_to_end_seconds")
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
        f"source commit -> view row: p50 {p50:.2f}s, p99 {p99:.2f}s {where99} "
        f"(target p99 <= 1 s at 1,000 events/s)"
    )
    tables = sorted({k.split('table="', 1)[1].split('"', 1)[0] for k in after if 'table="' in k})
    for table in tables:  # sources differ: CDC streams, polling and file drop wait a second
        count, t50, t99, at99 = spread(before, after, "opdbus_end_to_end_seconds", table)
        if count:
            print(f"  {table:<12} {count:>8,.0f} rows  p50 {t50:.2f}s  p99 {t99:.2f}s {at99}")
    print("source commit -> each stage (where the delay builds up):")
    for title, metric in STAGE_DELAYS:
        count, s50, s99, at99 = spread(stages_before, stages_after, metric)
        print(f"  {title:<28} {count:>8,.0f} events  p50 {s50:.2f}s  p99 {s99:.2f}s {at99}")


if __name__ == "__main__":
    main()
