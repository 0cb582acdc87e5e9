"""Lag, dead-letter and freshness arithmetic of the lag collector and `opdbus status`."""

from __future__ import annotations

from opdbus.observe.figures import (
    PartitionLag,
    consumer_lag,
    dead_letter_totals,
    freshness,
    group_totals,
)


def test_lag_is_end_minus_committed_per_group_and_partition():
    committed = {"opdbus-sink": {("integrated.keuangan", 0): 40, ("integrated.keuangan", 1): 7}}
    ends = {("integrated.keuangan", 0): 100, ("integrated.keuangan", 1): 7}
    rows = consumer_lag(committed, ends)
    assert [(r.partition, r.lag) for r in rows] == [(0, 60), (1, 0)]
    assert group_totals(rows) == {"opdbus-sink": 60}


def test_partitions_of_a_deleted_topic_and_unwatched_groups_are_left_out():
    committed = {
        "opdbus-processor": {("gone", 0): 5, ("opd.bkad.anggaran", 2): 1},
        "test-1234": {("opd.bkad.anggaran", 2): 0},
    }
    ends = {("opd.bkad.anggaran", 2): 3}
    rows = consumer_lag(committed, ends, watches=lambda g: g.startswith("opdbus-"))
    assert rows == [PartitionLag("opdbus-processor", "opd.bkad.anggaran", 2, 1, 3)]


def test_a_commit_past_the_end_counts_as_no_lag_not_negative():
    assert PartitionLag("g", "t", 0, committed=12, end=10).lag == 0


def test_dead_letters_sum_the_high_watermarks_of_dlq_topics_only():
    ends = {("dlq.connectors", 0): 3, ("dlq.connectors", 1): 4, ("opd.bkad.anggaran", 0): 99}
    assert dead_letter_totals(ends) == {"dlq.connectors": 7}


def test_freshness_is_the_age_of_the_newest_message_on_any_of_the_sources_topics():
    newest = {
        ("opd.dpmptsp.permohonan", 0): 1000.0,
        ("opd.dpmptsp.permohonan", 1): 1090.0,
        ("opd.dpmptsp.riwayat_status", 3): 1050.0,
        ("opd.disdukcapil.penduduk", 0): 500.0,
    }
    topics_of = {
        "perizinan": ["opd.dpmptsp.permohonan", "opd.dpmptsp.riwayat_status"],
        "siak": ["opd.disdukcapil.penduduk"],
        "keuangan": ["opd.bkad.anggaran"],
    }
    assert freshness(newest, topics_of, now=1100.0) == {
        "perizinan": 10.0,
        "siak": 600.0,
        "keuangan": None,  # nothing published yet: unknown, not "fresh"
    }
