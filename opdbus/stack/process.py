"""Starting, finding and stopping the stack's processes, and waiting on real readiness.

A process counts as ours only when its pid file exists, the pid is alive and its command line
mentions our state directory: `down` must never stop something the project did not start.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
PRIVATE_PORTS_FROM = 20000  # above the well-known services a machine may run


class StackError(RuntimeError):
    """A stack operation failed; str() is one line saying what went wrong and how to fix it."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", count: int = 1) -> int:
    """The first of `count` consecutive ports nothing is bound to now, for a process started
    next (processor worker N serves metrics on the base port + N).

    Chosen below the kernel's ephemeral range: a port from that range can be taken by any
    outgoing connection (the bus opens many) before the process that was meant to bind it."""
    lowest_ephemeral = int(Path(EPHEMERAL_RANGE).read_text().split()[0])
    for _ in range(500):
        base = random.randrange(PRIVATE_PORTS_FROM, lowest_ephemeral - count)
        if all(port_is_free(host, base + i) for i in range(count)):
            return base
    raise StackError(f"no {count} consecutive free ports on {host} below {lowest_ephemeral}")


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """CPU time (user + system) a process, or one of its threads, has used so far."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()  # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def require_free_port(service: str, host: str, port: int, config_key: str) -> None:
    if not port_is_free(host, port):
        raise StackError(
            f"{service}: port {host}:{port} is taken by another process; stop it or choose "
            f"another port with {config_key}=<port>"
        )


def tcp_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(
    what: str, probe: Callable[[], bool], timeout_s: float, alive: Callable[[], bool], log: Path
) -> float:
    """Poll probe until it holds; fail early if the process died. Returns seconds waited."""
    start = time.monotonic()
    delay = 0.1
    while not probe():
        if not alive():
            raise StackError(f"{what} exited during start-up; see {log}")
        if time.monotonic() - start > timeout_s:
            raise StackError(f"{what} not ready after {timeout_s:.0f}s; see {log}")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    return time.monotonic() - start


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class ManagedProcess:
    """One long-running service process, tracked by a pid file in the run directory."""

    def __init__(self, name: str, run_dir: Path, marker: str) -> None:
        self.name = name
        self.pid_file = run_dir / f"{name}.pid"
        self.marker = marker

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self.marker in _cmdline(pid) else None

    def alive(self) -> bool:
        return self.pid() is not None

    def start(
        self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        log.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # survives the CLI that started it
            )
        self.pid_file.write_text(str(proc.pid))
        return proc

    def stop(self, timeout_s: float = 30) -> bool:
        """SIGTERM, then SIGKILL after timeout_s. Returns whether something was stopped."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self.marker in _cmdline(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.marker in _cmdline(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def lower_priority(pid: int, nice: int) -> None:
    """Make a just-started process yield the CPU to its neighbours when they compete.

    Its own nice covers its main thread and every thread it starts later (threads inherit it;
    a Python program starts none this early). With autogroup scheduling on, the default of
    most distributions' kernels, the scheduler first shares the CPU between sessions, and
    each bus process runs in a session of its own: a process's nice then counts only against
    its own threads, so the session's nice is set as well."""
    os.setpriority(os.PRIO_PROCESS, pid, nice)
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        autogroup.write_text(str(nice))


def run(argv: Sequence[str], what: str, user: str | None = None, **kwargs) -> str:
    """Run a short command; on failure raise one line with its last output line."""
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)
    except FileNotFoundError as exc:
        raise StackError(f"{what}: {exc.filename} not found") from exc
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        raise StackError(f"{what} failed (exit {done.returncode}): {lines[-1]}")
    return done.stdout
