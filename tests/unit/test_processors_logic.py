"""The processors' pure parts: pseudonyms, lineage protection, age bands, PKS attributes,
ordering of population changes, domain validation."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from decimal import Decimal

import pytest

from opdbus import wire
from opdbus.config import ConfigError
from opdbus.processors import enrich, outputs, validate
from opdbus.processors.protect import Pseudonymizer

KEY = Pseudonymizer(b"k" * 32, "k1")
NIK = "6171015203900001"


def test_a_pseudonym_is_stable_per_key_and_differs_between_keys():
    assert KEY.pseudonym(NIK) == KEY.pseudonym(NIK)
    assert len(KEY.pseudonym(NIK)) == 64 and NIK not in KEY.pseudonym(NIK)
    assert Pseudonymizer(b"j" * 32, "k2").pseudonym(NIK) != KEY.pseudonym(NIK)


@pytest.mark.parametrize("length", [32, 64, 65, 200])
def test_a_pseudonym_is_the_hmac_sha256_of_the_nik_for_keys_shorter_and_longer_than_a_block(
    length,
):
    key = bytes(range(256))[:length]
    expected = hmac.new(key, NIK.encode(), hashlib.sha256).hexdigest()
    assert Pseudonymizer(key, "k1").pseudonym(NIK) == expected


def test_a_short_pseudonym_key_is_refused():
    with pytest.raises(ConfigError, match="at least 32 are needed"):
        Pseudonymizer(b"short", "k1")


def raw_event(position: str) -> dict:
    source = {
        "opd": "disdukcapil",
        "system": "siak",
        "database": "siak",
        "table": "penduduk",
        "position": position,
        "tx_id": None,
        "ts_ms": 1,
        "snapshot": True,
    }
    return {"op": "r", "source": source, "event_id": "raw-id"}


def test_a_nik_in_the_source_position_is_replaced_and_the_event_id_derived_again():
    raw = raw_event(f"0/16B3C8A0:r:{NIK}")
    protected = outputs.envelope(raw, "r", {}, KEY, (NIK,))
    assert NIK not in str(protected)
    assert protected["source"]["position"] == f"0/16B3C8A0:r:{KEY.pseudonym(NIK)}"
    assert protected["event_id"] != "raw-id"
    # Deterministic: a re-delivery of the same change keeps its id.
    assert outputs.envelope(raw, "r", {}, KEY, (NIK,))["event_id"] == protected["event_id"]


def test_lineage_without_personal_data_passes_unchanged():
    raw = raw_event("0/16B3C8A0")
    protected = outputs.envelope(raw, "r", {}, KEY, (NIK,))
    assert protected["source"] is raw["source"] and protected["event_id"] == "raw-id"


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (dt.date(2026, 3, 1), "0-4"),
        (dt.date(1991, 3, 13), "30-34"),
        (dt.date(1991, 3, 12), "35-39"),
        (dt.date(1940, 1, 1), "75+"),
    ],
)
def test_age_bands_are_five_years_wide_counting_the_birthday(born, band):
    assert enrich.age_band(born, dt.date(2026, 3, 12)) == band


def state(**extra) -> dict:
    row = {
        "tanggal_lahir": (dt.date(1990, 3, 12) - dt.date(1970, 1, 1)).days,  # Avro wire date
        "jenis_kelamin": "P",
        "kode_kelurahan": "61.71.02.1003",
        "status": "HIDUP",
    }
    return enrich.citizen_state(row | extra, {"ts_ms": 1000, "position": "0/1"})


def test_only_the_elements_a_pks_lists_are_filled():
    attrs = enrich.attributes(state(), dt.date(2026, 3, 12), frozenset({"jenis_kelamin"}))
    assert attrs == {
        "kelompok_umur": None,
        "jenis_kelamin": "P",
        "kode_kecamatan": None,
        "kode_kelurahan": None,
        "status": None,
    }


def test_domicile_kecamatan_comes_from_the_kelurahan_not_the_nik():
    attrs = enrich.attributes(state(), dt.date(2026, 3, 12), frozenset(enrich.ELEMENTS))
    assert attrs["kode_kecamatan"] == "61.71.02"  # the NIK says 61.71.01


def test_an_older_change_is_not_newer_than_the_stored_one():
    stored = state()
    assert not enrich.is_newer([999, "0/9"], stored)
    assert enrich.is_newer([1000, "0/1"], stored)  # the same change again: harmless
    assert enrich.is_newer([1001, "0/0"], stored)
    assert enrich.is_newer([1, "0/0"], None)


def test_validation_names_each_broken_rule():
    row = {"nik": "6171017203900001", "jenis_kelamin": "P", "kode_kelurahan": "61.71.99.9999"}
    found = validate.check("penduduk", row)
    assert [(v.field, v.rule) for v in found] == [
        ("nik", "day code 72 is not 01-31 or 41-71"),
        ("kode_kelurahan", "is not a kelurahan code of Kota Pontianak"),
    ]


def test_a_period_outside_its_kind_is_refused():
    row = {"kode_opd": "dinkes", "jenis_periode": "TRIWULAN", "periode": 5}
    [found] = validate.check("kinerja", row)
    assert (found.field, found.rule) == ("periode", "must be 1-4 for TRIWULAN")


def unscaled(amount: str) -> bytes:
    """A decimal(18, 2) amount as Avro writes it: unscaled, two's complement."""
    return int(Decimal(amount).scaleb(2)).to_bytes(8, "big", signed=True)


def test_negative_spending_and_a_short_cash_plan_are_refused():
    row = {"kode_opd": "dinkes", "pagu": unscaled("-1.00"), "rencana_kas": [unscaled("0")] * 11}
    violations = validate.check("anggaran", row)
    assert [v.field for v in violations] == ["pagu", "rencana_kas"]
    assert "-1.00" in str(violations[0])


def test_a_zero_or_positive_amount_passes():
    row = {"kode_opd": "dinkes", "pagu": unscaled("0.00"), "rencana_kas": [unscaled("5")] * 12}
    assert validate.check("anggaran", row) == []
    assert validate.check("realisasi", {"kode_opd": "dinkes", "nilai": unscaled("12.50")}) == []


def test_wire_dates_become_calendar_days():
    assert wire.date_of_days(0) == dt.date(1970, 1, 1)
    assert wire.date_of_days(20_524) == dt.date(2026, 3, 12)
    # 2026-03-12 23:59:59.999 UTC is still that day; one millisecond later it is the next.
    last = (20_525 * 86_400_000) - 1
    assert wire.date_of_millis(last) == dt.date(2026, 3, 12)
    assert wire.date_of_millis(last + 1) == dt.date(2026, 3, 13)
