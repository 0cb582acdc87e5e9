"""Tests start processes on ports chosen just before: free_port must give ports that are free,
consecutive when asked, and outside the range outgoing connections take theirs from."""

from __future__ import annotations

import socket
from pathlib import Path

from opdbus.stack.process import EPHEMERAL_RANGE, free_port, port_is_free


def test_consecutive_ports_are_all_free_and_below_the_ephemeral_range():
    lowest_ephemeral = int(Path(EPHEMERAL_RANGE).read_text().split()[0])
    for _ in range(20):
        base = free_port(count=3)
        assert base + 2 < lowest_ephemeral
        assert all(port_is_free("127.0.0.1", base + i) for i in range(3))


def test_a_listening_port_is_not_free():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen()
        assert not port_is_free("127.0.0.1", sock.getsockname()[1])
