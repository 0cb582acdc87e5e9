"""The bus's own processes on the local stack: one per connector source, the processor, the
sink and the lag collector, each an `opdbus` subcommand run in the background like the
services, with a pid file and a log under the state directory.

`opdbus bus up|down|status [COMPONENT ...]` manages them (all, or the ones named); the demo
starts them, `stack down` stops them first.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from opdbus.config import Config
from opdbus.stack.layout import Layout
from opdbus.stack.process import (
    ManagedProcess,
    StackError,
    http_ok,
    lower_priority,
    wait_until,
)


@dataclass(frozen=True)
class Component:
    name: str  # also its metrics.ports key
    argv: tuple[str, ...]  # after `opdbus`
    kind: str = ""  # its key in bus.nice: connector, processor, sink or lag-collector


def components(config: Config) -> list[Component]:
    """In data-flow order: sources, processor, sink, then the lag collector watching them."""
    found = [
        Component(f"connector-{name}", ("connect", name), "connector")
        for name in config.section("sources")
    ]
    # Worker 0 is "processor"; more workers share the partitions of its consumer group.
    found.append(Component("processor", ("process",), "processor"))
    workers = int(config.section("processors").get("workers", 1))
    found += [
        Component(f"processor-{n}", ("process", "--worker", str(n)), "processor")
        for n in range(1, workers)
    ]
    found.append(Component("sink", ("sink",), "sink"))
    found.append(Component("lag-collector", ("lag",), "lag-collector"))
    return found


def opdbus_executable() -> str:
    beside = Path(sys.executable).parent / "opdbus"
    return str(beside) if beside.exists() else (shutil.which("opdbus") or "opdbus")


class Bus:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.layout = Layout(config.state_dir, config.cache_dir)
        self.host = config.section("metrics")["host"]
        self.ports = config.section("metrics")["ports"]
        self.nice: dict[str, int] = config.section("bus")["nice"]

    def _process(self, component: Component) -> ManagedProcess:
        # The marker names this state dir, so another checkout's processes are never touched.
        return ManagedProcess(component.name, self.layout.run, marker=str(self.layout.root))

    def _metrics_url(self, component: Component) -> str:
        return f"http://{self.host}:{self.ports[component.name]}/metrics"

    def selected(self, names: Sequence[str] = ()) -> list[Component]:
        """The named components in data-flow order, or all of them when none are named."""
        every = components(self.config)
        unknown = sorted(set(names) - {c.name for c in every})
        if unknown:
            known = ", ".join(c.name for c in every)
            raise StackError(f"no bus component {', '.join(unknown)}; the bus has: {known}")
        return [c for c in every if not names or c.name in names]

    def up(self, progress=print, timeout_s: float = 120, names: Sequence[str] = ()) -> None:
        self.layout.prepare()
        for component in self.selected(names):
            process = self._process(component)
            if process.alive():
                progress(f"{component.name:<24} already running")
                continue
            log = self.layout.log(component.name)
            # --state-dir pins the child to this state dir and, on its command line, marks
            # the process as ours.
            argv = [opdbus_executable(), "--state-dir", str(self.layout.root), *component.argv]
            proc = process.start(argv, log)
            nice = int(self.nice.get(component.kind, 0))
            yielded = f", nice {nice}" if nice else ""
            if nice:
                try:
                    lower_priority(proc.pid, nice)
                except OSError as exc:  # e.g. a container's read-only /proc: runs, unyielding
                    yielded = f", nice {nice} NOT applied ({exc})"
            url = self._metrics_url(component)
            wait_until(
                component.name,
                lambda u=url: http_ok(u),
                timeout_s,
                lambda p=proc: p.poll() is None,
                log,
            )
            progress(f"{component.name:<24} started, metrics {url}{yielded}")

    def leftovers(self) -> dict[str, Component]:
        """Bus processes still running that the configuration no longer has (fewer processor
        workers, a source removed): `down` stops them too, or they would run on unmanaged."""
        configured = {c.name for c in components(self.config)}
        found = {}
        for pid_file in sorted(self.layout.run.glob("*.pid")):
            component = Component(pid_file.stem, ())
            if (
                component.name not in configured
                and component.name.startswith(("connector-", "processor-"))
                and self._process(component).alive()
            ):
                found[component.name] = component
        return found

    def down(self, progress=print, names: Sequence[str] = ()) -> None:
        leftovers = self.leftovers()
        configured = [name for name in names if name not in leftovers]
        chosen = [c for name, c in leftovers.items() if not names or name in names]
        if configured or not names:
            chosen += reversed(self.selected(configured))
        for component in chosen:
            if self._process(component).stop(timeout_s=60):
                progress(f"{component.name:<24} stopped")

    def status(self, names: Sequence[str] = ()) -> dict[str, dict[str, object]]:
        return {
            c.name: {
                "state": "up" if self._process(c).alive() else "down",
                "pid": self._process(c).pid(),
            }
            for c in self.selected(names)
        }

    def require_running(self) -> None:
        down = [name for name, s in self.status().items() if s["state"] != "up"]
        if down:
            raise StackError(f"not running: {', '.join(down)}; start them with `opdbus bus up`")
