"""`opdbus credentials <source> add|list|revoke [opd]`: the push API's per-OPD tokens.

`add` prints the new token once, on stdout, and stores only its SHA-256; a lost token cannot
be shown again, only replaced (`add --replace`) or revoked. A running connector picks changes
up without a restart.
"""

from __future__ import annotations

import argparse
import sys

from opdbus.config import Config, ConfigError

from . import credentials, credentials_path


def _push_source(config: Config, name: str) -> dict:
    spec = config.section("sources").get(name)
    if not isinstance(spec, dict) or spec.get("connector") != "http_push":
        pushes = [
            n for n, s in config.section("sources").items() if s.get("connector") == "http_push"
        ]
        raise ConfigError(f"{name!r} is not an http_push source (known: {', '.join(pushes)})")
    return spec


def _run(args: argparse.Namespace, config: Config) -> int:
    spec = _push_source(config, args.source)
    path = credentials_path(config, args.source, spec)
    if args.action == "list":
        for entry in credentials.read(path):
            print(f"{entry.opd:<20} sha256:{entry.token_sha256[:12]}…  created {entry.created_at}")
        return 0
    if not args.opd:
        raise ConfigError(f"`credentials {args.source} {args.action}` needs an OPD, e.g. dinkes")
    if args.action == "revoke":
        credentials.revoke(path, args.opd)
        print(f"token of {args.opd} revoked in {path}", file=sys.stderr)
        return 0
    token = credentials.add(path, args.opd, replace=args.replace)
    topic = spec["topic"].format(opd=args.opd)
    if topic not in config.topics:
        print(f"note: {topic} is not declared in config topics; pushes get 403", file=sys.stderr)
    print(f"token for {args.opd} (shown once; only its hash is kept in {path}):", file=sys.stderr)
    print(token)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "credentials",
        help="manage the per-OPD tokens of an HTTP push source (add, list, revoke)",
        description="Tokens for the push API (e.g. e-SAKIP). Only their SHA-256 is stored, in "
        "sources.<source>.credentials_file (default <state dir>/secrets/<source>.yaml).",
    )
    parser.add_argument("source", help="an http_push source under `sources`, e.g. esakip")
    parser.add_argument("action", choices=["add", "list", "revoke"])
    parser.add_argument("opd", nargs="?", help="OPD slug, e.g. dinkes (for add and revoke)")
    parser.add_argument(
        "--replace", action="store_true", help="add: replace the OPD's existing token"
    )
    parser.set_defaults(run=_run)
