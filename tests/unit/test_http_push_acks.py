"""Group commit: a commit only ever covers whole requests, and a request's future resolves only
after the commit that acknowledged all of its events."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from opdbus.connectors.http_push.acks import GroupCommitter, NotAccepted
from opdbus.connectors.http_push.events import Outgoing
from opdbus.connectors.publisher import DeliveryError


class FakePublisher:
    """Records what each commit covered; can fail the next commit or a topic's encoder."""

    def __init__(self, commit_s: float = 0.005) -> None:
        self.commit_s = commit_s
        self.current: list[str] = []
        self.commits: list[list[str]] = []
        self.fail_next_commit = False
        self.bad_topics: set[str] = set()
        self.lock = threading.Lock()

    def encoder(self, topic: str) -> object:
        if topic in self.bad_topics:
            raise RuntimeError(f"no schema for {topic}")
        return object()

    def publish(self, topic: str, key: str, event: dict) -> None:
        with self.lock:
            self.current.append(key)

    def commit(self, timeout_s: float = 60) -> int:
        time.sleep(self.commit_s)
        with self.lock:
            batch, self.current = self.current, []
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise DeliveryError(f"{len(batch)} of {len(batch)} events not acknowledged")
        self.commits.append(batch)
        return len(batch)


def request(name: str, size: int, topic: str = "t") -> list[Outgoing]:
    return [Outgoing(topic, f"{name}#{i}", {}) for i in range(size)]


@pytest.fixture
def committer_and_publisher():
    publisher = FakePublisher()
    committer = GroupCommitter(publisher, ack_timeout_s=5, max_group_events=50)
    committer.start()
    yield committer, publisher
    committer.close()


def test_concurrent_requests_are_committed_whole_never_split_across_commits(
    committer_and_publisher,
):
    committer, publisher = committer_and_publisher

    def push(n: int) -> tuple[str, int]:
        name = f"r{n}"
        return name, committer.submit(request(name, 1 + n % 17)).result(timeout=10)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answered = dict(pool.map(push, range(200)))

    where: dict[str, set[int]] = {}
    for number, keys in enumerate(publisher.commits):
        for key in keys:
            where.setdefault(key.split("#")[0], set()).add(number)
    assert all(len(commits) == 1 for commits in where.values()), "a request was split"
    assert answered == {f"r{n}": 1 + n % 17 for n in range(200)}
    assert len(publisher.commits) < 200, "no grouping: one flush per request"


def test_a_future_resolves_only_after_the_commit_covering_it():
    publisher = FakePublisher(commit_s=0.3)
    committer = GroupCommitter(publisher)
    committer.start()
    try:
        future = committer.submit(request("r", 3))
        time.sleep(0.1)
        assert not future.done() and publisher.commits == []
        assert future.result(timeout=5) == 3
        assert publisher.commits == [["r#0", "r#1", "r#2"]]
    finally:
        committer.close()


def test_a_failed_delivery_fails_every_request_of_its_group_and_the_next_group_succeeds():
    publisher = FakePublisher(commit_s=0.05)
    committer = GroupCommitter(publisher)
    publisher.fail_next_commit = True
    futures = [committer.submit(request(f"r{n}", 2)) for n in range(3)]  # queued: one group
    committer.start()
    try:
        for future in futures:
            with pytest.raises(NotAccepted, match="not acknowledged"):
                future.result(timeout=5)
        assert committer.submit(request("later", 2)).result(timeout=5) == 2
    finally:
        committer.close()


def test_a_request_whose_topic_has_no_encoder_publishes_nothing_and_others_go_on():
    publisher = FakePublisher()
    publisher.bad_topics.add("unregistered")
    committer = GroupCommitter(publisher)
    bad = committer.submit(request("bad", 3, topic="unregistered"))
    good = committer.submit(request("good", 2))
    committer.start()
    try:
        with pytest.raises(NotAccepted, match="no schema"):
            bad.result(timeout=5)
        assert good.result(timeout=5) == 2
        assert [k for batch in publisher.commits for k in batch] == ["good#0", "good#1"]
    finally:
        committer.close()


def test_close_answers_queued_requests_then_refuses_new_ones():
    publisher = FakePublisher()
    committer = GroupCommitter(publisher)
    queued = [committer.submit(request(f"r{n}", 1)) for n in range(5)]
    committer.start()
    committer.close()
    assert [f.result(timeout=0) for f in queued] == [1] * 5
    with pytest.raises(NotAccepted, match="shutting down"):
        committer.submit(request("late", 1)).result(timeout=0)
