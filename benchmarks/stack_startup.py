"""Local stack cold start and memory, against DESIGN.md's budgets (<= 60 s, <= 3 GiB).

Starts a second stack in a fresh state directory on ports shifted by --port-offset, so it can
run beside a developer's stack; jars come from the download cache (the budget is "after the
first download"). Prints figures; asserts nothing, because this machine is shared and noisy.

    .venv/bin/python benchmarks/stack_startup.py [--runs 3] [--settle 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from opdbus import config as config_module
from opdbus.stack import distribution
from opdbus.stack.manager import Stack

PORT_KEYS = {
    "POSTGRES": ["PORT"],
    "KAFKA": ["PORT", "CONTROLLER_PORT"],
    "REGISTRY": ["PORT", "MANAGEMENT_PORT"],
    "PROMETHEUS": ["PORT"],
}


def shifted_env(state_dir: str, offset: int) -> dict[str, str]:
    base = config_module.load({})
    env = {**os.environ, "OPDBUS_STACK__STATE_DIR": state_dir}
    for service, keys in PORT_KEYS.items():
        for key in keys:
            port = base.stack[service.lower()][key.lower()] + offset
            env[f"OPDBUS_STACK__{service}__{key}"] = str(port)
    return env


def descendants(pid: int) -> list[int]:
    found = [pid]
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for token in child.read_text().split():
            found.extend(descendants(int(token)))
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB of pid and its descendants; PSS splits shared pages fairly."""
    rss = pss = 0
    for each in descendants(pid):
        try:
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold starts to time")
    parser.add_argument("--settle", type=float, default=20, help="seconds before reading memory")
    parser.add_argument("--port-offset", type=int, default=1000)
    args = parser.parse_args()

    print(f"{'run':<5}{'fresh state dir (s)':>22}{'restart, data kept (s)':>26}")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="opdbus-bench-", dir="/var/tmp") as state:
            config = config_module.load(shifted_env(state, args.port_offset))
            stack = Stack(config)
            distribution.ensure_downloaded(stack.layout)  # cached: not part of the budget
            fresh = stack.up(progress=lambda line: None)
            stack.down(progress=lambda line: None)
            restart = stack.up(progress=lambda line: None)
            print(f"{run:<5}{fresh:>22.1f}{restart:>26.1f}")
            if run == args.runs:
                time.sleep(args.settle)
                print(f"\nmemory after {args.settle:.0f}s idle:")
                print(f"{'service':<12}{'RSS MiB':>10}{'PSS MiB':>10}")
                total_rss = total_pss = 0
                for service in stack.services():
                    pid = service.pid()
                    rss, pss = memory_kib(pid) if pid else (0, 0)
                    total_rss, total_pss = total_rss + rss, total_pss + pss
                    print(f"{service.name:<12}{rss / 1024:>10.0f}{pss / 1024:>10.0f}")
                print(
                    f"{'total':<12}{total_rss / 1024:>10.0f}{total_pss / 1024:>10.0f}"
                    f"   (budget 3072 MiB)"
                )
            stack.down(progress=lambda line: None)


if __name__ == "__main__":
    main()
