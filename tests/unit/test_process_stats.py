"""The benchmarks read a process's CPU time and peak memory from /proc, for the whole process
or for one of its threads."""

from __future__ import annotations

import os
import threading

from opdbus.stack.process import cpu_seconds, peak_rss_mib


def test_cpu_time_grows_with_work_for_the_process_and_its_main_thread():
    pid = os.getpid()
    before, main_before = cpu_seconds(pid), cpu_seconds(pid, threading.get_native_id())
    sum(i * i for i in range(3_000_000))  # a few tenths of a second of CPU
    assert cpu_seconds(pid) > before
    assert cpu_seconds(pid, threading.get_native_id()) > main_before
    assert cpu_seconds(pid, threading.get_native_id()) <= cpu_seconds(pid)


def test_peak_memory_holds_at_least_what_was_allocated():
    block = bytearray(64 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page, so it is resident
    assert peak_rss_mib(os.getpid()) >= 64
