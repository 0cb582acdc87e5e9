"""Accepted push items as envelopes: position <request id>#<index>, source time from the OPD,
event ids that a retry reproduces, and records the registered schema can encode."""

from __future__ import annotations

import datetime as dt
import io

import fastavro
import pytest

from opdbus import schemas
from opdbus.connectors.http_push.events import Origin, to_events
from opdbus.connectors.http_push.problems import Rejected
from opdbus.connectors.http_push.request_ids import RecentRequests, request_id
from opdbus.serde import strip_logical

ORIGIN = Origin("esakip", "esakip", "kinerja", ["id"])
REPORTED = dt.datetime(2026, 10, 5, 1, 0, 0, 123000, tzinfo=dt.UTC)
REPORTED_MS = 1791162000123  # as a built record holds it (connectors/records.py)


def record(i: int = 0, realisasi: float = 87.5) -> dict:
    return {
        "id": f"dinkes/IKU-0{i}/2026/T3",
        "kode_opd": "dinkes",
        "kode_indikator": f"IKU-0{i}",
        "tahun": 2147483647,
        "jenis_periode": "TRIWULAN",
        "periode": 3,
        "realisasi": realisasi,
        "satuan": "persen",
        "dilaporkan_pada": REPORTED_MS,
    }


def test_envelope_carries_position_source_time_request_id_and_key():
    [out] = to_events(ORIGIN, "dinkes", "opd.dinkes.kinerja", "req-7", [record()])
    source = out.event["source"]
    assert (out.topic, out.key) == ("opd.dinkes.kinerja", "dinkes/IKU-00/2026/T3")
    assert source["position"] == "req-7#0"
    assert source["tx_id"] == "req-7"
    assert source["opd"] == "dinkes"
    assert source["ts_ms"] == 1791162000123
    assert out.event["op"] == "c"


def test_retrying_a_request_id_reproduces_the_event_ids_and_new_ids_differ():
    batch = [record(0), record(1)]
    first = to_events(ORIGIN, "dinkes", "t", "req-1", batch)
    retry = to_events(ORIGIN, "dinkes", "t", "req-1", batch)
    other = to_events(ORIGIN, "dinkes", "t", "req-2", batch)
    other_opd = to_events(ORIGIN, "bkad", "t", "req-1", batch)
    ids = [e.event["event_id"] for e in first]
    assert ids == [e.event["event_id"] for e in retry]
    assert len(set(ids)) == 2
    assert not set(ids) & {e.event["event_id"] for e in other + other_opd}


def test_events_encode_with_the_current_kinerja_envelope():
    [out] = to_events(ORIGIN, "dinkes", "t", "r", [record()])
    buffer = io.BytesIO()
    wire = fastavro.parse_schema(strip_logical(schemas.current("kinerja")))
    fastavro.schemaless_writer(buffer, wire, out.event)
    buffer.seek(0)
    decoded = fastavro.schemaless_reader(buffer, fastavro.parse_schema(schemas.current("kinerja")))
    assert decoded["after"]["dilaporkan_pada"] == REPORTED
    assert decoded["event_id"] == out.event["event_id"]


def test_request_id_is_generated_when_absent_and_checked_when_given():
    assert request_id(None) != request_id(None)
    assert request_id("esakip-2026-10-05:0001") == "esakip-2026-10-05:0001"
    for bad in ("", "a b", "x" * 129, "a#1", "-lead"):
        with pytest.raises(Rejected) as caught:
            request_id(bad)
        assert (caught.value.status, caught.value.problems[0].field) == (400, "X-Request-Id")


def test_reusing_a_request_id_for_a_different_batch_is_refused_but_a_retry_is_not():
    recent = RecentRequests(capacity=2)
    recent.check("dinkes", "r1", [record(0)])
    recent.check("dinkes", "r1", [record(0)])  # a retry
    recent.check("bkad", "r1", [record(1)])  # ids are per OPD
    with pytest.raises(Rejected) as caught:
        recent.check("dinkes", "r1", [record(0, realisasi=90.0)])
    assert caught.value.status == 422
    assert caught.value.problems[0].field == "X-Request-Id"


def test_request_id_memory_is_bounded():
    recent = RecentRequests(capacity=2)
    for rid in ("r1", "r2", "r3"):
        recent.check("dinkes", rid, [record(0)])
    recent.check("dinkes", "r1", [record(1)])  # forgotten: accepted
    assert len(recent._seen) == 2
