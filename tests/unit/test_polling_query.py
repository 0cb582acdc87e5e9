"""The poll query and its parameters (the SQL itself runs in tests/integration)."""

from __future__ import annotations

import pytest

from opdbus.config import ConfigError
from opdbus.connectors.polling import tables
from opdbus.connectors.polling.cursor import EPOCH, Cursor, Snapshot
from opdbus.connectors.polling.query import Table, pending_params, pending_query

TABLE = Table("keuangan.realisasi", "opd.bkad.realisasi", ("tahun", "id"), "updated_at")


def test_each_partial_transaction_skips_its_rows_up_to_the_saved_key() -> None:
    cursor = Cursor(low=5, seen=frozenset({7}), partial={12: [2025, 3], 9: [2024, 8]})
    text = pending_query(TABLE, cursor).as_string(None)
    params = pending_params(cursor, Snapshot(5, 3 * EPOCH + 20), limit=100)

    assert 'FROM "keuangan"."realisasi" t' in text
    for i in range(2):
        clause = f'"_opdbus_xid" = %(p{i})s AND ("tahun", "id") <= (%(p{i}k0)s, %(p{i}k1)s)'
        assert f"AND NOT ({clause})" in text
    assert (params["p0"], params["p0k0"], params["p0k1"]) == (9, 2024, 8)
    assert (params["p1"], params["p1k0"], params["p1k1"]) == (12, 2025, 3)
    assert text.endswith('ORDER BY "_opdbus_xid", "tahun", "id" LIMIT %(limit)s')


def test_xmin_is_placed_in_the_epoch_of_the_snapshot() -> None:
    params = pending_params(Cursor(), Snapshot(3 * EPOCH + 10, 3 * EPOCH + 20), limit=10)
    assert (params["xmax"], params["xmax32"]) == (3 * EPOCH + 20, 20)
    assert (params["low"], params["seen"], params["limit"]) == (0, [], 10)


def test_tables_need_a_topic_and_a_key() -> None:
    spec = {"tables": {"anggaran": {"topic": "t", "key": "id", "watermark": "updated_at"}}}
    assert tables(spec) == [Table("anggaran", "t", ("id",), "updated_at")]
    with pytest.raises(ConfigError, match="needs a topic and a key"):
        tables({"tables": {"anggaran": {"topic": "t"}}})
    with pytest.raises(ConfigError, match="needs `tables"):
        tables({})
