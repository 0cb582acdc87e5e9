"""`opdbus report`: the M&E summary on the terminal and the HTML report on disk."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psycopg

from opdbus.config import Config


def _run(args: argparse.Namespace, config: Config) -> int:
    from opdbus.sinks import report

    try:
        done = report.generate(config, Path(args.out).resolve() if args.out else None)
    except psycopg.errors.UndefinedTable as exc:
        print(
            f"opdbus: error: the monev views are missing ({exc.diag.message_primary}); "
            "run the sink (it migrates its database) first",
            file=sys.stderr,
        )
        return 1
    except psycopg.OperationalError as exc:
        print(f"opdbus: error: cannot read the monev views: {exc}".strip(), file=sys.stderr)
        return 1
    print(done.text)
    print(f"laporan HTML (HTML report): {done.path}")
    if args.open_browser_hint:
        print(browser_hint(done.path))
    return 0


def browser_hint(path: Path) -> str:
    """How to open the report from here: a browser on this machine, or a copy over SSH."""
    hint = f"buka di peramban (open in a browser): {path.as_uri()}"
    if os.environ.get("SSH_CONNECTION"):
        host = os.environ["SSH_CONNECTION"].split()[2]
        hint += (
            f"\n  dari komputer Anda (from your machine): scp {host}:{path} . && open monev.html"
        )
    else:
        hint += f"\n  e.g. xdg-open {path}"
    return hint


def add_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report",
        help="print the M&E summary and write the HTML report (charts) from the monev views",
        description="Read the monev views of the sink's database in one snapshot, print the "
        "M&E summary as tables and write one self-contained HTML file (inline SVG charts, no "
        "network needed): licensing service level by kecamatan, budget absorption by OPD, "
        "indicator achievement, population coverage, data freshness.",
    )
    report.add_argument(
        "--out",
        metavar="PATH",
        help="where to write the HTML (default: <state dir>/report/monev.html)",
    )
    report.add_argument(
        "--open-browser-hint",
        action="store_true",
        help="also print how to open the report in a browser",
    )
    report.set_defaults(run=_run)
