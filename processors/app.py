"""The faust application, configured from config/opdbus.yaml (DESIGN.md's faust facts apply).

- RocksDB (rocksdict) tables with a small block cache: faust's default is 2 GiB per partition.
- at_least_once with concurrency=1 agents: exactly_once is not usable in faust-streaming and
  concurrency>1 loses messages (faust issue #606). Downstream writes are idempotent.
- The web server binds to the metrics host (loopback by default) with table views off: it would
  otherwise serve the population table to anyone who asks.
"""

from __future__ import annotations

from typing import Any

import faust

from opdbus.config import Config


def broker_urls(bootstrap_servers: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server]


def make_app(config: Config, worker: int = 0) -> faust.App:
    conf: dict[str, Any] = config.section("processors")
    host = config.section("metrics")["host"]
    # One data directory per app and worker on a machine: RocksDB locks its files.
    datadir = config.state_dir / "processor" / conf["app_id"] / f"worker-{worker}"
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        conf["app_id"],
        broker=broker_urls(config.bootstrap_servers),
        store="rocksdb://",
        datadir=str(datadir),
        topic_partitions=int(conf["partitions"]),
        topic_replication_factor=int(conf["replication_factor"]),
        processing_guarantee="at_least_once",
        producer_acks=-1,
        # Without linger every message is its own produce request (a socket write each).
        producer_linger=float(conf["linger_ms"]) / 1000,
        producer_max_batch_size=int(conf["max_batch_bytes"]),
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=float(conf.get("commit_interval_s", 1.0)),
        web_enabled=True,
        web_bind=host,
        web_host=host,
        web_port=int(conf["web_port"]) + worker,
        web_tables_enabled=False,
        web_in_thread=False,
    )


def rocksdb_options(config: Config) -> dict[str, int]:
    return {k: int(v) for k, v in config.section("processors")["rocksdb"].items()}
