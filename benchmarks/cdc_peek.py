"""What a CDC slot's backlog costs the source server, read in different peek sizes.

    .venv/bin/python benchmarks/cdc_peek.py --database siak --slot opdbus_siak

Copies the slot (`pg_copy_logical_replication_slot`: same restart and confirmed positions)
once per way of reading, reads the copy to its end as the connector does (peek up to N
changes, then advance to the last commit read), and prints the server backend's CPU time per
change, the advance's share of it and the wall time. The source slot is never moved. Leave a
backlog first: stop the connector (`opdbus bus down connector-siak`), write activities
(`opdbus simulate run --no-pace --activities 100000 --systems siak,perizinan`), run this, then
start the connector again. Prints figures; asserts nothing.

Ways of reading: `connector` (batch_size, doubled after every full peek up to
MAX_BATCH_GROWTH x batch_size, as connectors/cdc/connector.py does), `x4` (quadrupled up to
32 x batch_size) and `all` (one peek of everything).
"""

from __future__ import annotations

import argparse
import time

import psycopg
from psycopg import sql

from opdbus import config as config_module
from opdbus.connectors.cdc.connector import MAX_BATCH_GROWTH
from opdbus.connectors.cdc.wal2json import OPTIONS, Decoder
from opdbus.stack.process import cpu_seconds

GROWTH = {"connector": (2, MAX_BATCH_GROWTH), "x4": (4, 32)}


def read_copy(conn: psycopg.Connection, source: str, way: str, batch: int) -> str:
    copy = f"bench_peek_{way}"
    conn.execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        (copy,),
    )
    conn.execute("SELECT pg_copy_logical_replication_slot(%s, %s)", (source, copy))
    options = sql.SQL(", ").join(sql.Literal(option) for option in OPTIONS)
    pid = conn.info.backend_pid
    started, cpu_before = time.monotonic(), cpu_seconds(pid)
    upto = None if way == "all" else batch
    changes = peeks = 0
    advancing = 0.0
    try:
        while True:
            decoder = Decoder()
            read = 0
            query = sql.SQL("SELECT data FROM pg_logical_slot_peek_changes({}, NULL, {}, {})")
            with conn.transaction(), conn.cursor(name="peek") as cursor:
                cursor.execute(query.format(sql.Literal(copy), sql.Literal(upto), options))
                while rows := cursor.fetchmany(2000):
                    for (data,) in rows:
                        read += 1
                        changes += decoder.feed(data) is not None
            peeks += 1
            if decoder.committed is None:
                break
            before = cpu_seconds(pid)
            conn.execute(
                "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (copy, decoder.committed)
            )
            advancing += cpu_seconds(pid) - before
            if upto is not None and read >= upto:
                factor, cap = GROWTH[way]
                upto = min(upto * factor, batch * cap)
    finally:
        conn.execute("SELECT pg_drop_replication_slot(%s)", (copy,))
    cpu = cpu_seconds(pid) - cpu_before
    return (
        f"{way:<10} {changes:>9,} changes in {peeks:>3} peeks: server CPU {cpu:6.2f} s "
        f"(advance {advancing:5.2f} s) = {cpu / max(changes, 1) * 1e6:5.1f} us per change, "
        f"wall {time.monotonic() - started:6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="siak")
    parser.add_argument("--slot", default="opdbus_siak", help="the slot whose backlog is read")
    parser.add_argument("--ways", nargs="+", default=["connector", "x4", "all"])
    parser.add_argument("--batch", type=int, default=5000, help="the source's batch_size")
    args = parser.parse_args()
    config = config_module.load()
    with psycopg.connect(config.postgres_url(args.database), autocommit=True) as conn:
        for way in args.ways:
            print(read_copy(conn, args.slot, way, args.batch), flush=True)


if __name__ == "__main__":
    main()
