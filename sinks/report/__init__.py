"""The M&E report: the monev views as an HTML page with charts and as terminal tables.

    monev = report.load(config)                 # one consistent read of the five views
    print(report.summary(monev, report.expected_intervals(config)))
    path = report.write_html(monev, report.default_path(config), report.expected_intervals(config))

or `report.generate(config)` for all three; `opdbus report` is the command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg

from opdbus.config import Config
from opdbus.sinks.report.data import Monev, read
from opdbus.sinks.report.html import page
from opdbus.sinks.report.text import summary

__all__ = [
    "Generated",
    "Monev",
    "default_path",
    "expected_intervals",
    "generate",
    "load",
    "read",
    "summary",
    "write_html",
]


def default_path(config: Config) -> Path:
    return config.state_dir / "report" / "monev.html"


def expected_intervals(config: Config) -> dict[str, int]:
    """Seconds each source system may stay silent (config observe.expected_interval_s)."""
    observe = config.data.get("observe") or {}
    return {str(k): int(v) for k, v in (observe.get("expected_interval_s") or {}).items()}


def load(config: Config) -> Monev:
    """Reads the monev views of the sink's database (config sink.database)."""
    database = config.section("sink")["database"]
    with psycopg.connect(config.postgres_url(database), autocommit=True) as conn:
        return read(conn)


def write_html(monev: Monev, path: Path, expected: Mapping[str, int] | None = None) -> Path:
    """Writes the page atomically (a reader never opens half a file); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(page(monev, expected), encoding="utf-8")
    partial.replace(path)
    return path


@dataclass(frozen=True)
class Generated:
    path: Path
    monev: Monev
    text: str  # the terminal summary


def generate(config: Config, out: Path | None = None) -> Generated:
    """Reads the views once, writes the HTML report and returns it with the text summary."""
    monev = load(config)
    expected = expected_intervals(config)
    path = write_html(monev, out or default_path(config), expected)
    return Generated(path, monev, summary(monev, expected))
