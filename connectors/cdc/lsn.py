"""PostgreSQL log sequence numbers: "16/B374D848" text, integers, and a form that sorts as text.

PostgreSQL prints an LSN as two hex numbers without padding, so "0/A" > "0/10" as text. Event
positions pad both halves to 8 digits, so comparing positions as text compares the LSNs.
"""

from __future__ import annotations


def parse(text: str) -> int:
    high, _, low = text.partition("/")
    if not low:
        raise ValueError(f"not an LSN: {text!r}")
    return (int(high, 16) << 32) | int(low, 16)


def show(value: int) -> str:
    """PostgreSQL's own spelling, for SQL and logs."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def padded(text: str) -> str:
    """The LSN with both halves padded to 8 hex digits: text order is LSN order."""
    high, _, low = text.partition("/")
    return f"{high.upper():0>8}/{low.upper():0>8}"
