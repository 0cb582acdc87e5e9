"""The `opdbus` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from opdbus import config as config_module
from opdbus.config import Config, ConfigError
from opdbus.stack.bus import Bus
from opdbus.stack.manager import Stack
from opdbus.stack.process import StackError

# Failures that are the user's to fix: reported as one line, exit 1, no traceback.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (ConfigError, StackError)


def _stack(args: argparse.Namespace, config: Config) -> int:
    stack = Stack(config)
    if args.action == "up":
        took = stack.up()
        print(f"stack up in {took:.1f}s; `opdbus stack status --json` prints the endpoints")
    elif args.action == "down":
        Bus(config).down()  # the bus's processes first: they depend on the services
        stack.down()
    else:
        status = stack.status()
        healthy = all(s["state"] == "up" for s in status["services"].values())
        if args.json:
            print(json.dumps(status, indent=2))
        else:
            for name, svc in status["services"].items():
                print(f"{name:<10} {svc['state']:<5} pid={svc['pid'] or '-'}")
            for key in ("kafka", "registry", "postgres", "prometheus"):
                print(f"{key:<10} {status[key]}")
        return 0 if healthy else 3
    return 0


def _bus(args: argparse.Namespace, config: Config) -> int:
    bus = Bus(config)
    if args.action == "up":
        bus.up(names=args.components)
    elif args.action == "down":
        bus.down(names=args.components)
    else:
        status = bus.status(args.components)
        if args.json:
            print(json.dumps(status, indent=2))
        else:
            for name, state in status.items():
                print(f"{name:<24} {state['state']:<5} pid={state['pid'] or '-'}")
        return 0 if all(s["state"] == "up" for s in status.values()) else 3
    return 0


def _init(args: argparse.Namespace, config: Config) -> int:
    from opdbus.provision import provision

    done = provision(config)
    print(
        f"{len(done.subjects)} subjects registered at {config.registry_url}; "
        f"{done.topics_declared} topics declared on {config.bootstrap_servers} "
        f"({len(done.topics_created)} new)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opdbus",
        description="Event-driven data integration bus for Kota Pontianak's OPD systems.",
        epilog="Configuration: config/opdbus.yaml, OPDBUS_CONFIG=<overlay.yaml>, "
        "OPDBUS_<SECTION>__<KEY>=<value>.",
    )
    parser.add_argument(
        "--state-dir",
        help="the local stack's state directory (same as OPDBUS_STACK__STATE_DIR)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stack = sub.add_parser("stack", help="start, stop or inspect the local stack (no Docker)")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.add_argument("--json", action="store_true", help="status as JSON (endpoints, states)")
    stack.set_defaults(run=_stack)

    bus = sub.add_parser(
        "bus",
        help="start, stop or inspect the bus's own processes on the local stack",
        description="Connectors (one per source), the processor, the sink and the lag "
        "collector, run in the background with logs under <state dir>/logs.",
    )
    bus.add_argument("action", choices=["up", "down", "status"])
    bus.add_argument(
        "components",
        nargs="*",
        metavar="COMPONENT",
        help="only these (e.g. sink, processor, connector-siak); default: all",
    )
    bus.add_argument("--json", action="store_true", help="status as JSON")
    bus.set_defaults(run=_bus)

    init = sub.add_parser(
        "init",
        help="register every schema and declare every topic (idempotent)",
        description="Prepare a Kafka cluster and registry for the bus: register every schema "
        "version and the compatibility level, create the declared topics.",
    )
    init.set_defaults(run=_init)

    # Imported here, so `opdbus --help` stays fast.
    from opdbus import demo, schema_cli
    from opdbus.connectors import runner
    from opdbus.connectors.http_push import credentials_cli
    from opdbus.observe import commands as observe_commands
    from opdbus.processors import cli as process_cli
    from opdbus.simulator import cli as simulate_cli
    from opdbus.sinks import cli as sink_cli
    from opdbus.sinks.report import cli as report_cli

    schema_cli.add_parser(sub)
    runner.add_parser(sub)
    process_cli.add_parser(sub)
    demo.add_parser(sub)
    credentials_cli.add_parser(sub)
    observe_commands.add_parser(sub)
    simulate_cli.add_parser(sub)
    sink_cli.add_parser(sub)
    report_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace, Config], int] = args.run
    if args.state_dir:
        os.environ["OPDBUS_STACK__STATE_DIR"] = args.state_dir
    try:
        return run(args, config_module.load())
    except EXPECTED_ERRORS as exc:
        print(f"opdbus: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("opdbus: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
