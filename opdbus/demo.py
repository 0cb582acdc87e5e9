"""`opdbus demo`: the main job on the local stack, start to finish.

1. the local stack (Kafka, registry, PostgreSQL, Prometheus);
2. the bus prepared: schemas, topics, the unified database's migrations;
3. the simulated OPD systems set up (tables, population, history);
4. e-SAKIP credentials for the OPDs that report through it;
5. the bus's processes: a connector per source, the processor, the sink, the lag collector;
6. a stretch of city activity from the simulator;
7. the pipeline drained, then the M&E summary printed and the HTML report written.

Every step is an `opdbus` command of its own, so each can be run and debugged alone; the demo
runs them in order and shows their progress.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import psycopg
import yaml

from opdbus.config import Config
from opdbus.connectors.http_push import credentials
from opdbus.observe.broker import Broker
from opdbus.provision import provision
from opdbus.stack.bus import Bus, opdbus_executable
from opdbus.stack.manager import Stack, redact
from opdbus.stack.process import StackError

STEPS = 7


def step(number: int, text: str) -> None:
    print(f"[{number}/{STEPS}] {text}", flush=True)


def run_opdbus(config: Config, *args: str) -> None:
    """One opdbus command as a child, its output shown as it comes; failure stops the demo."""
    argv = [opdbus_executable(), "--state-dir", str(config.state_dir), *args]
    if subprocess.run(argv, check=False).returncode != 0:
        raise StackError(f"`opdbus {' '.join(args)}` failed (its message is above)")


def esakip_tokens(config: Config) -> Path:
    """Tokens for every OPD with a declared kinerja topic: hashes where the push connector
    reads them, the tokens themselves where the simulator (the OPDs' app) reads them."""
    spec = config.section("sources")["esakip"]
    hashes = Path(spec.get("credentials_file") or config.state_dir / "secrets" / "esakip.yaml")
    tokens_file = config.state_dir / "secrets" / "esakip-tokens.yaml"
    tokens = yaml.safe_load(tokens_file.read_text()) if tokens_file.exists() else {}
    pattern = spec["topic"]
    for topic in config.topics:
        opd = topic.split(".")[1] if topic.startswith("opd.") else ""
        if opd and topic == pattern.format(opd=opd) and opd not in tokens:
            tokens[opd] = credentials.add(hashes, opd, replace=True)
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text(yaml.safe_dump(tokens))
    tokens_file.chmod(0o600)
    return tokens_file


def backlog(config: Config, broker: Broker) -> int:
    """Events not yet through: the processor's consumer lag plus what the sink has not
    applied (the sink keeps its offsets in the unified database, not in Kafka)."""
    processors = config.section("processors")
    committed = broker.committed([processors["app_id"]]).get(processors["app_id"], {})
    inputs = [processors["population"]["input"], *(t for t, r in processors["routes"].items() if r)]
    sink_topics = config.section("sink")["topics"]
    with psycopg.connect(config.postgres_url(config.section("sink")["database"])) as conn:
        applied = {
            (topic, partition): offset
            for topic, partition, offset in conn.execute(
                "SELECT topic, partition, next_offset FROM sink.offsets WHERE consumer_group = %s",
                (config.section("sink")["group_id"],),
            )
        }
    counts = broker.topics()
    # Every input partition counts, committed or not: a processor that never committed
    # (or never started) has everything still to do.
    parts = {(t, p) for t in inputs for p in range(counts.get(t, 0))} | set(committed)
    sink_parts = [(t, p) for t in sink_topics for p in range(counts.get(t, 0))]
    ends = broker.end_offsets([*parts, *sink_parts])
    behind = sum(max(ends[tp] - committed.get(tp, 0), 0) for tp in parts if tp in ends)
    return behind + sum(max(ends[tp] - applied.get(tp, 0), 0) for tp in sink_parts)


def wait_drained(
    config: Config, timeout_s: float, settle_s: float = 6, bus: Bus | None = None
) -> None:
    """Until nothing is left in flight for settle_s (connectors publish within a second);
    with the local bus, a process of it that died ends the wait at once, naming its log."""
    broker = Broker(config, timeout_s=10)
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    shown: int | None = None
    while True:
        down = [] if bus is None else [n for n, s in bus.status().items() if s["state"] != "up"]
        if down:
            logs = ", ".join(str(config.state_dir / "logs" / f"{n}.log") for n in down)
            raise StackError(f"{', '.join(down)} stopped while draining; see {logs}")
        left = backlog(config, broker)
        now = time.monotonic()
        quiet_since = (quiet_since or now) if left == 0 else None
        if left != shown:  # a line per change, readable in a log as on a terminal
            print(f"    in flight: {left:,}", flush=True)
            shown = left
        if quiet_since is not None and now - quiet_since >= settle_s:
            return
        if now > deadline:
            raise StackError(f"pipeline not drained after {timeout_s:.0f}s ({left:,} in flight)")
        time.sleep(1)


def _run(args: argparse.Namespace, config: Config) -> int:
    demo = config.section("demo")
    stack = Stack(config)
    if args.external:
        step(1, f"using Kafka {config.bootstrap_servers} and registry {config.registry_url}")
    else:
        step(1, "starting the local stack")
        stack.up(progress=lambda line: print(f"    {line}"))
    step(2, "preparing the bus: schemas, topics, unified database")
    done = provision(config)
    print(
        f"    {len(done.subjects)} subjects, {done.topics_declared} topics "
        f"({len(done.topics_created)} new)"
    )
    run_opdbus(config, "sink", "--migrate-only")
    step(3, f"setting up the simulated OPD systems ({args.citizens:,} citizens)")
    run_opdbus(
        config, "simulate", "setup", "--citizens", str(args.citizens), "--seed", str(demo["seed"])
    )
    step(4, "issuing e-SAKIP credentials")
    tokens = esakip_tokens(config)
    print(f"    tokens for the reporting OPDs in {tokens}")
    step(5, "starting the bus: connectors, processor, sink, lag collector")
    if args.external:
        print("    --external: the bus's processes run where the stack runs (compose services)")
    else:
        Bus(config).up(progress=lambda line: print(f"    {line}"))
    step(6, f"city activity: {args.duration:.0f}s at {args.rate:,.0f} activities/s")
    run_opdbus(
        config,
        "simulate",
        "run",
        "--duration",
        str(args.duration),
        "--rate",
        str(args.rate),
        "--seed",
        str(demo["seed"]),
        "--esakip-tokens",
        str(tokens),
    )
    step(7, "waiting for the pipeline to drain, then the M&E report")
    wait_drained(
        config,
        timeout_s=float(demo["drain_timeout_s"]),
        bus=None if args.external else Bus(config),
    )
    report = config.state_dir / "report" / "monev.html"
    run_opdbus(config, "report", "--out", str(report))
    if args.external:
        print(f"\nReport: file://{report}")
        return 0
    status = stack.status()
    print("\nThe stack and the bus keep running:")
    print(f"  report      file://{report}")
    print(f"  prometheus  {status['prometheus']}")
    print(f"  registry    {status['registry']}")
    print(f"  kafka       {status['kafka']}")
    print(
        f"  postgres    {redact(status['postgres'])} "
        f"(password in {config.state_dir}/secrets/postgres)"
    )
    print("  health      opdbus status")
    print("Stop everything with: opdbus stack down")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the main job on the local stack",
        description="Start the local stack and the bus, drive a stretch of simulated city "
        "activity through it, and print the M&E summary with an HTML report. Defaults in "
        "config/opdbus.yaml `demo`.",
    )
    parser.set_defaults(run=_run)
    from opdbus import config as config_module  # the defaults come from configuration

    demo = config_module.load().section("demo")
    parser.add_argument("--citizens", type=int, default=demo["citizens"])
    parser.add_argument(
        "--duration", type=float, default=demo["duration_s"], help="seconds of simulated activity"
    )
    parser.add_argument("--rate", type=float, default=demo["rate"], help="activities per second")
    parser.add_argument(
        "--external",
        action="store_true",
        help="use the configured Kafka/registry/PostgreSQL and already running bus processes "
        "(e.g. compose) instead of the local stack",
    )
