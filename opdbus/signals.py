"""How every long-running bus process stops: SIGTERM or SIGINT sets an event that its loop
checks between batches, so the batch in hand is finished and its offsets are kept."""

from __future__ import annotations

import faulthandler
import signal
import threading


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack
    return stop
