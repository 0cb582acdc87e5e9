"""Group commit: the one thread that talks to the Publisher, so 202 means Kafka acknowledged.

Publisher.commit() waits for *every* event produced since the last commit: it cannot tell
requests apart. So requests never produce concurrently; they queue here, and one thread takes
whole requests off the queue (as many as are waiting, up to a size cap), produces all their
events, commits once and answers each of them. A commit therefore only ever covers complete
requests, one flush serves many requests, and a delivery failure fails every request of the
group (each is retried by its client with the same id: at-least-once, same event ids).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from .events import Outgoing

log = logging.getLogger("opdbus.connect.http_push")


class Sink(Protocol):
    """What this needs of connectors.publisher.Publisher."""

    def encoder(self, topic: str) -> object: ...
    def publish(self, topic: str, key: str, event: dict) -> None: ...
    def commit(self, timeout_s: float = ...) -> int: ...


class NotAccepted(RuntimeError):
    """The events of a request may or may not be in Kafka: the client must retry (503)."""


@dataclass
class _Pending:
    events: Sequence[Outgoing]
    done: Future[int] = field(default_factory=Future)


class GroupCommitter:
    def __init__(
        self, publisher: Sink, ack_timeout_s: float = 30, max_group_events: int = 20_000
    ) -> None:
        self.publisher = publisher
        self.ack_timeout_s = ack_timeout_s
        self.max_group_events = max_group_events
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="http-push-commit", daemon=True)
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    def submit(self, events: Sequence[Outgoing]) -> Future[int]:
        """A future that resolves to the count once Kafka acknowledged all of events, or
        fails with NotAccepted."""
        pending = _Pending(events)
        if self._closed:
            pending.done.set_exception(NotAccepted("shutting down"))
        else:
            self._queue.put(pending)
        return pending.done

    def close(self) -> None:
        """Finish every queued request (the server answers them), then stop the thread."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _take_group(self) -> tuple[list[_Pending], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        group, size = [first], len(first.events)
        while size < self.max_group_events:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return group, True
            group.append(nxt)
            size += len(nxt.events)
        return group, False

    def _loop(self) -> None:
        while True:
            group, last = self._take_group()
            if group:
                self._commit(group)
            if last:
                self._refuse_leftovers()
                return

    def _refuse_leftovers(self) -> None:
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                return
            if pending is not None:
                pending.done.set_exception(NotAccepted("shutting down"))

    def _commit(self, group: list[_Pending]) -> None:
        produced: list[_Pending] = []
        for pending in group:
            try:
                # Fetch encoders first: a registry failure then publishes nothing of the request.
                for topic in {e.topic for e in pending.events}:
                    self.publisher.encoder(topic)
                for out in pending.events:
                    self.publisher.publish(out.topic, out.key, out.event)
            except Exception as exc:  # answered 503; the client retries with the same id
                log.exception("could not produce a request's events")
                pending.done.set_exception(NotAccepted(f"{type(exc).__name__}: {exc}"))
                continue
            produced.append(pending)
        started = time.monotonic()
        try:
            # Always commit, even with nothing produced: it resets the publisher's batch.
            self.publisher.commit(self.ack_timeout_s)
        except Exception as exc:
            log.error("Kafka did not acknowledge %d requests: %s", len(produced), exc)
            for pending in produced:
                pending.done.set_exception(NotAccepted(str(exc)))
            return
        log.debug("%d requests acknowledged in %.3fs", len(produced), time.monotonic() - started)
        for pending in produced:
            pending.done.set_result(len(pending.events))
