"""X-Request-Id: the idempotency key of a push, and a guard against reusing it wrongly.

The request id becomes the events' position, so reusing an id for a *different* batch would
give new data old event ids, and downstream would drop it as a duplicate. The server remembers
a digest of each recent (OPD, id)'s records and refuses such a reuse with 422 instead. The
memory is bounded and per process: clients must still use a fresh id per batch.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import OrderedDict
from typing import Any

from .problems import Problem, Rejected

HEADER = "X-Request-Id"
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


def request_id(header: str | None) -> str:
    """The client's id, or a new one for a client that sent none (it is in the reply)."""
    if header is None:
        return str(uuid.uuid4())
    if not _VALID.fullmatch(header):
        raise Rejected(
            400,
            "bad request id",
            [Problem(HEADER, "must be 1-128 characters of A-Z a-z 0-9 . _ : -")],
        )
    return header


def digest(records: list[dict[str, Any]]) -> str:
    """Of the converted records, so a retry that re-serialises its JSON still matches."""
    canonical = json.dumps(records, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class RecentRequests:
    """(OPD, request id) -> digest of the records, for the most recent `capacity` requests."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], str] = OrderedDict()

    def check(self, opd: str, rid: str, records: list[dict[str, Any]]) -> None:
        key = (opd, rid)
        current = digest(records)
        previous = self._seen.get(key)
        if previous is not None and previous != current:
            raise Rejected(
                422,
                "request id reused",
                [Problem(HEADER, "was already used for a different batch; send a new id")],
            )
        self._seen[key] = current
        self._seen.move_to_end(key)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
