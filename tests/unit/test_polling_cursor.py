"""The polling cursor: snapshots, 32-bit xmin to 64-bit xid, and how a poll advances it.

The last test runs the cursor against a model of PostgreSQL's transaction visibility (xids
assigned at the first write, subtransactions, commits and aborts in any order, polls with
small limits) and checks that every committed row is published exactly once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from opdbus.connectors.polling.cursor import EPOCH, Cursor, Snapshot, full_xid


def test_snapshot_text_parses_into_full_xids() -> None:
    assert Snapshot.parse("917:920:917,919") == Snapshot(917, 920, (917, 919))
    assert Snapshot.parse("920:920:") == Snapshot(920, 920, ())
    assert Snapshot.parse(f"{EPOCH + 5}:{EPOCH + 9}:") == Snapshot(EPOCH + 5, EPOCH + 9, ())


@pytest.mark.parametrize(
    ("xmin32", "snapshot_xmax", "full"),
    [
        (900, 920, 900),  # same epoch
        (900, 3 * EPOCH + 920, 3 * EPOCH + 900),
        (EPOCH - 10, EPOCH + 5, EPOCH - 10),  # written just before the xid counter wrapped
        (2, 3 * EPOCH + 920, 0),  # frozen: older than everything
        (1, 920, 0),  # bootstrap
    ],
)
def test_a_rows_32_bit_xmin_becomes_the_full_xid_just_below_the_snapshot(
    xmin32: int, snapshot_xmax: int, full: int
) -> None:
    assert full_xid(xmin32, snapshot_xmax) == full


def test_an_exhausted_poll_moves_low_to_the_oldest_running_transaction() -> None:
    cursor = Cursor(low=100, seen=frozenset({101}), partial={}).advance(
        Snapshot(105, 110, (105, 108)), xids=[103, 106, 107], last_key=[9], exhausted=True
    )
    # 105 and 108 were running: their rows are still to come, so low stays at 105; 106 and
    # 107 committed and were read, so they are remembered rather than read again.
    assert cursor == Cursor(low=105, seen=frozenset({106, 107}), partial={})


def test_low_never_moves_back() -> None:
    cursor = Cursor(low=200).advance(Snapshot(150, 210), xids=[], last_key=None, exhausted=True)
    assert cursor.low == 200


def test_a_poll_cut_inside_a_transaction_remembers_the_last_key_of_that_transaction() -> None:
    cursor = Cursor(low=100).advance(
        Snapshot(120, 130), xids=[101, 101, 104, 104], last_key=[42], exhausted=False
    )
    # Everything below 104 is done, 104 up to key 42.
    assert cursor == Cursor(low=104, seen=frozenset(), partial={104: [42]})


def test_a_cut_poll_keeps_low_at_the_snapshots_xmin_when_a_transaction_is_running() -> None:
    cursor = Cursor(low=100).advance(
        Snapshot(102, 130, (102,)), xids=[101, 103, 104], last_key=[7], exhausted=False
    )
    assert cursor == Cursor(low=102, seen=frozenset({103}), partial={104: [7]})


def test_a_partial_transaction_passed_by_the_next_poll_becomes_seen() -> None:
    cursor = Cursor(low=104, partial={104: [42], 109: [3]}).advance(
        Snapshot(120, 130), xids=[104, 105, 106], last_key=[1], exhausted=False
    )
    assert cursor == Cursor(low=106, seen=frozenset(), partial={106: [1], 109: [3]})
    cursor = cursor.advance(Snapshot(120, 130), xids=[109], last_key=[5], exhausted=True)
    assert cursor == Cursor(low=120, seen=frozenset(), partial={})


def test_cursor_survives_json() -> None:
    cursor = Cursor(low=5, seen=frozenset({7, 9}), partial={11: [3, "a"]})
    assert Cursor.from_json(cursor.to_json()) == cursor
    assert Cursor.from_json(None) == Cursor()


# --- a model of PostgreSQL visibility --------------------------------------------------------


@dataclass
class Txn:
    xid: int | None = None  # assigned at the first write, like PostgreSQL
    rows: list[tuple[int, int]] = field(default_factory=list)  # (key, xmin)


@dataclass
class Model:
    rng: random.Random
    next_xid: int = 1000
    next_key: int = 1
    running: list[Txn] = field(default_factory=list)
    visible: dict[int, int] = field(default_factory=dict)  # key -> xmin
    committed_keys: set[int] = field(default_factory=set)

    def step(self) -> None:
        r = self.rng.random()
        if r < 0.2 or not self.running:
            self.running.append(Txn())
        elif r < 0.7:
            txn = self.rng.choice(self.running)
            if txn.xid is None:
                txn.xid, self.next_xid = self.next_xid, self.next_xid + 1
            xmin = txn.xid
            if self.rng.random() < 0.3:  # a savepoint: its own xid, never listed in snapshots
                xmin, self.next_xid = self.next_xid, self.next_xid + 1
            txn.rows.append((self.next_key, xmin))
            self.next_key += 1
        else:
            txn = self.running.pop(self.rng.randrange(len(self.running)))
            if self.rng.random() < 0.9:  # commit; else abort
                self.visible.update(txn.rows)
                self.committed_keys.update(key for key, _ in txn.rows)

    def snapshot(self) -> Snapshot:
        xip = tuple(sorted(t.xid for t in self.running if t.xid is not None))
        return Snapshot(min(xip, default=self.next_xid), self.next_xid, xip)

    def query(self, cursor: Cursor, limit: int) -> list[tuple[int, int]]:
        """What the poll's SQL returns: (xid, key) not covered by the cursor, in order."""
        rows = sorted(
            (xmin, key)
            for key, xmin in self.visible.items()
            if xmin >= cursor.low
            and xmin not in cursor.seen
            and not (xmin in cursor.partial and key <= cursor.partial[xmin][0])
        )
        return rows[:limit]


def poll(model: Model, cursor: Cursor, limit: int, published: list[int]) -> tuple[Cursor, bool]:
    snapshot = model.snapshot()
    rows = model.query(cursor, limit)
    published.extend(key for _, key in rows)
    exhausted = len(rows) < limit
    last_key = [rows[-1][1]] if rows else None
    return cursor.advance(snapshot, [x for x, _ in rows], last_key, exhausted), exhausted


@pytest.mark.parametrize("seed", range(200))
def test_every_committed_row_is_published_once_whatever_the_commit_order(seed: int) -> None:
    rng = random.Random(seed)
    model = Model(rng)
    cursor, published = Cursor(), []
    limit = rng.randint(1, 6)
    for _ in range(400):
        model.step()
        if rng.random() < 0.3:
            cursor, _ = poll(model, cursor, limit, published)
            cursor = Cursor.from_json(cursor.to_json())  # as saved and loaded after a restart
    while model.running:  # everyone finishes
        txn = model.running.pop()
        model.visible.update(txn.rows)
        model.committed_keys.update(key for key, _ in txn.rows)
    exhausted = False
    while not exhausted:
        cursor, exhausted = poll(model, cursor, limit, published)

    assert sorted(published) == sorted(model.committed_keys)
    assert len(cursor.seen) <= len(model.committed_keys)
