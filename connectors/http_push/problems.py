"""The push API's error vocabulary: every refusal names the item, the field and the rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    field: str
    rule: str
    item: int | None = None  # index in "items", None for the request as a whole

    def as_json(self) -> dict[str, Any]:
        return {"item": self.item, "field": self.field, "rule": self.rule}


class Rejected(Exception):
    """A request refused before anything of it was published: status, summary, problems."""

    def __init__(self, status: int, error: str, problems: list[Problem]) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.problems = problems

    def body(self, request_id: str | None) -> dict[str, Any]:
        return {
            "error": self.error,
            "errors": [p.as_json() for p in self.problems],
            "request_id": request_id,
        }
