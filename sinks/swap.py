"""Swap a rebuilt unified schema in, in one transaction, with the live sink paused.

1. Take the sink's advisory lock exclusively: in-flight batches finish, new ones wait.
2. Check the rebuilt schema has the live one's shape (tables, columns, indexes) and give it
   the live one's privileges (grants made by later migrations, by hand, ...).
3. Rename `unified` to `unified_old_<time>` and the rebuilt schema to `unified`.
4. Views bind to tables by OID, so views elsewhere (monev) still read the old tables: call
   `opdbus.sinks.views.recreate(conn, "unified")` if the views module provides it, then
   re-create every view still bound to the old schema from its own definition, captured
   before the rename (where it still said `unified.<table>`).
5. Set the live group's sink.offsets to the end offsets the rebuild stopped at: the live sink's
   next batch finds its offsets moved, reloads them and applies what came after, into the new
   tables (see sinks/offsets.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from opdbus.sinks.migrate import views_recreate
from opdbus.sinks.offsets import SINK_LOCK, TopicPartition, write

log = logging.getLogger("opdbus.replay")


class SwapError(RuntimeError):
    """The rebuilt schema cannot replace the live one; nothing was changed."""


@dataclass(frozen=True)
class BoundView:
    oid: int
    name: str  # qualified and quoted
    kind: str  # v (view) or m (materialized view)
    definition: str
    options: list[str] | None


@contextmanager
def catalog_search_path(conn: psycopg.Connection) -> Iterator[None]:
    """Only pg_catalog on the path: view definitions print (and are read back) with every
    other name schema-qualified."""
    saved = conn.execute("SELECT current_setting('search_path')").fetchone()
    conn.execute("SELECT set_config('search_path', 'pg_catalog', true)")
    try:
        yield
    finally:
        conn.execute("SELECT set_config('search_path', %s, true)", (saved[0] if saved else "",))


def bound_views(conn: psycopg.Connection, schema: str) -> list[BoundView]:
    """Views outside schema that read its tables, definitions fully qualified."""
    with catalog_search_path(conn):
        rows = _bound_views(conn, schema)
    return [BoundView(*row) for row in rows]


def _bound_views(conn: psycopg.Connection, schema: str) -> list[tuple]:
    return conn.execute(
        """
        SELECT DISTINCT v.oid, format('%%I.%%I', vn.nspname, v.relname), v.relkind,
               pg_get_viewdef(v.oid), v.reloptions
          FROM pg_depend d
          JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
          JOIN pg_class v ON v.oid = r.ev_class
          JOIN pg_namespace vn ON vn.oid = v.relnamespace
          JOIN pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
          JOIN pg_namespace tn ON tn.oid = t.relnamespace
         WHERE tn.nspname = %s AND vn.nspname <> %s AND v.oid <> t.oid
         ORDER BY v.oid
        """,
        (schema, schema),
    ).fetchall()


def shape(conn: psycopg.Connection, schema: str) -> dict[str, set[str]]:
    """Per table: its columns with types and nullability, and its index definitions."""
    found: dict[str, set[str]] = {}
    for table, column in conn.execute(
        """
        SELECT c.relname, format('%%s %%s%%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                 CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
        """,
        (schema,),
    ):
        found.setdefault(table, set()).add(column)
    for table, index in conn.execute(
        "SELECT tablename, replace(indexdef, ' ON ' || quote_ident(%s) || '.', ' ON ') "
        "FROM pg_indexes WHERE schemaname = %s",
        (schema, schema),
    ):
        found.setdefault(table, set()).add(index)
    return found


def check_shape(conn: psycopg.Connection, live: str, rebuilt: str) -> None:
    have, built = shape(conn, live), shape(conn, rebuilt)
    problems = [
        f"{table}: {', '.join(sorted(have.get(table, set()) ^ built.get(table, set())))}"
        for table in sorted(set(have) | set(built))
        if have.get(table) != built.get(table)
    ]
    if problems:
        raise SwapError(
            f"{rebuilt} differs from {live} (make every change to the unified schema a "
            f"migration that names ${{unified}}): {'; '.join(problems)}"
        )


def copy_privileges(conn: psycopg.Connection, live: str, rebuilt: str) -> None:
    """Grant on the rebuilt schema and its tables what is granted on the live ones."""
    grants = conn.execute(
        """
        SELECT NULL::text, a.privilege_type, a.grantee, a.is_grantable
          FROM pg_namespace n, aclexplode(n.nspacl) a
         WHERE n.nspname = %s AND a.grantee <> n.nspowner
        UNION ALL
        SELECT c.relname, a.privilege_type, a.grantee, a.is_grantable
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
               aclexplode(c.relacl) a
         WHERE n.nspname = %s AND a.grantee <> c.relowner
           AND EXISTS (SELECT 1 FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace
                        WHERE rn.nspname = %s AND r.relname = c.relname)
        """,
        (live, live, rebuilt),
    ).fetchall()
    for table, privilege, grantee, grantable in grants:
        target = (
            sql.SQL("SCHEMA {}").format(sql.Identifier(rebuilt))
            if table is None
            else sql.SQL("TABLE {}").format(sql.Identifier(rebuilt, table))
        )
        role = (
            sql.SQL("PUBLIC")
            if grantee == 0
            else sql.SQL("{}").format(sql.Identifier(_role_name(conn, grantee)))
        )
        conn.execute(
            sql.SQL("GRANT {} ON {} TO {}{}").format(
                sql.SQL(privilege),
                target,
                role,
                sql.SQL(" WITH GRANT OPTION" if grantable else ""),
            )
        )


def _role_name(conn: psycopg.Connection, oid: int) -> str:
    row = conn.execute("SELECT rolname FROM pg_roles WHERE oid = %s", (oid,)).fetchone()
    assert row is not None
    return row[0]


def rebind(conn: psycopg.Connection, views: list[BoundView]) -> None:
    with catalog_search_path(conn):
        for view in views:
            _rebind(conn, view)


def _rebind(conn: psycopg.Connection, view: BoundView) -> None:
    if view.kind != "v":
        raise SwapError(
            f"materialized view {view.name} reads the unified tables: only "
            "opdbus.sinks.views.recreate(conn, schema) can rebuild it"
        )
    options = sql.SQL("")
    if view.options:
        options = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(map(sql.SQL, view.options)))
    conn.execute(
        sql.SQL("CREATE OR REPLACE VIEW {}{} AS {}").format(
            sql.SQL(view.name), options, sql.SQL(view.definition.rstrip().rstrip(";"))
        )
    )
    log.info("rebound view %s", view.name)


def preflight(conn: psycopg.Connection, live: str) -> None:
    """Refuse before a long rebuild what the swap would refuse after it."""
    if views_recreate() is None:
        matviews = [v.name for v in bound_views(conn, live) if v.kind != "v"]
        if matviews:
            raise SwapError(
                f"materialized views read {live} ({', '.join(matviews)}): only "
                "opdbus.sinks.views.recreate(conn, schema) can rebuild them"
            )


def swap(
    conn: psycopg.Connection,
    live: str,
    rebuilt: str,
    old: str,
    live_group: str,
    replay_group: str,
    end_offsets: Mapping[TopicPartition, int],
    drop_old: bool = False,
) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SINK_LOCK,))
        check_shape(conn, live, rebuilt)
        copy_privileges(conn, live, rebuilt)
        captured = {view.oid: view for view in bound_views(conn, live)}
        conn.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(live), sql.Identifier(old)
            )
        )
        conn.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(rebuilt), sql.Identifier(live)
            )
        )
        recreate = views_recreate()
        if recreate is not None:
            recreate(conn, live)
        still = [captured[v.oid] for v in bound_views(conn, old) if v.oid in captured]
        rebind(conn, still)
        left = bound_views(conn, old)
        if left:
            raise SwapError(f"views still read {old}: {', '.join(v.name for v in left)}")
        conn.execute(
            "DELETE FROM sink.offsets WHERE consumer_group IN (%s, %s)", (live_group, replay_group)
        )
        write(conn, live_group, end_offsets)
        if drop_old:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(old)))
