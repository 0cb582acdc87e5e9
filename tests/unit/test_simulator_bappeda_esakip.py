"""Bappeda's file exports and the e-SAKIP pushes: contract shape, atomic files, tagged faults."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from opdbus.simulator import settings
from opdbus.simulator.bappeda import COLUMNS, Bappeda
from opdbus.simulator.context import Context
from opdbus.simulator.esakip import REQUIRED, Esakip, Response, load_tokens

AT = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def context(bad_share: float, **overrides: Any) -> Context:
    return Context.create(settings.load(overrides=overrides), 7, bad_share, AT)


def rows_of(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


def export(ctx: Context, directory: Path, count: int) -> Bappeda:
    bappeda = Bappeda(ctx, directory)
    for i in range(count):
        bappeda.ekspor_target(AT + dt.timedelta(hours=i))
    return bappeda


def test_exports_are_csv_and_xlsx_with_the_contract_header_and_no_part_files(tmp_path: Path):
    export(context(0.0), tmp_path, 30)
    files = sorted(tmp_path.iterdir())
    assert {p.suffix for p in files} == {".csv", ".xlsx"}
    assert not [p for p in files if p.name.endswith(".part")]
    for path in files:
        rows = rows_of(path)
        assert rows and list(rows[0]) == list(COLUMNS)
        for row in rows:
            assert row["arah"] in ("NAIK", "TURUN")
            assert float(row["target"]) > 0
            assert int(row["tahun"]) in (2026, 2027)


def test_every_bad_cell_is_tagged_with_its_file_and_line(tmp_path: Path):
    ctx = context(0.3)
    export(ctx, tmp_path, 40)
    bad = [b for b in ctx.manifest.bad if b.system == "bappeda"]
    assert {b.kind for b in bad} == {"missing_field", "wrong_type"}
    for record in bad:
        name, line = record.key.rsplit(":", 1)
        path = tmp_path / name
        value = rows_of(path)[int(line) - 2][record.field]  # line 1 is the header
        if record.kind == "missing_field":
            assert value in ("", None)
        else:
            with pytest.raises(ValueError):
                float(value)


def test_a_redropped_export_is_byte_for_byte_the_same_file(tmp_path: Path):
    ctx = context(0.0, bappeda={"redrop_share": 0.5})
    bappeda = export(ctx, tmp_path, 20)
    assert ctx.manifest.notes["bappeda.redrops"] > 0
    path, content = bappeda.last or (None, b"")
    assert path is not None and path.read_bytes() == content
    assert ctx.manifest.notes["bappeda.files"] == len(list(tmp_path.iterdir()))


class RecordingEsakip(Esakip):
    """The push client with the network replaced by a contract-following stand-in."""

    def __init__(self, ctx: Context, answer: str = "contract") -> None:
        super().__init__(ctx, "http://esakip.test/v1/kinerja", {"dinkes": "t-dinkes"})
        self.sent: list[tuple[str, str, list[dict[str, Any]]]] = []
        self.answer = answer

    def post(self, token: str, request_id: str, items: list[dict[str, Any]]) -> Response:
        self.sent.append((token, request_id, items))
        if self.answer == "down":
            return Response(0, "")
        for item in items:
            if set(item) != set(REQUIRED) or not isinstance(item["realisasi"], float):
                return Response(422, '{"errors": []}')
            if not isinstance(item["tahun"], int) or not isinstance(item["periode"], int):
                return Response(422, '{"errors": []}')
        return Response(202, "{}")


def test_a_clean_push_sends_every_field_with_its_type_and_the_opds_token():
    ctx = context(0.0)
    client = RecordingEsakip(ctx)
    client.lapor_kinerja(AT)
    token, request_id, items = client.sent[0]
    assert token == "t-dinkes" and request_id
    for item in items:
        assert set(item) == set(REQUIRED)
        assert item["kode_opd"] == "dinkes" and item["jenis_periode"] == "TRIWULAN"
        assert 1 <= item["periode"] <= 4
        assert dt.datetime.fromisoformat(item["dilaporkan_pada"]).utcoffset()
    assert ctx.manifest.records["esakip.kinerja"] == len(items)


def test_a_rejected_batch_is_tagged_then_sent_again_corrected_under_a_new_request_id():
    ctx = context(0.5)
    client = RecordingEsakip(ctx)
    for i in range(10):
        client.lapor_kinerja(AT + dt.timedelta(hours=i))
    assert ctx.manifest.bad and ctx.manifest.notes["esakip.rejected.422"] > 0
    sent_ids = [request_id for _, request_id, _ in client.sent]
    for record in ctx.manifest.bad:
        request_id, index = record.key.split("#")
        assert request_id in sent_ids and f"{request_id}-ulang" in sent_ids
        first = next(items for _, rid, items in client.sent if rid == request_id)
        assert 0 <= int(index) < len(first)
    assert not ctx.manifest.notes.get("esakip.rejected_clean.422")


def test_an_unreachable_endpoint_is_counted_and_not_retried_during_the_backoff():
    ctx = context(0.0)
    client = RecordingEsakip(ctx, answer="down")
    for i in range(5):
        client.lapor_kinerja(AT + dt.timedelta(hours=i))
    assert ctx.manifest.notes["esakip.unreachable"] == 5
    assert len(client.sent) == 1  # later pushes wait out the backoff
    assert not ctx.manifest.bad and not ctx.manifest.records


def test_without_tokens_no_push_is_attempted(tmp_path: Path):
    ctx = context(0.0)
    client = Esakip(ctx, "http://esakip.test/v1/kinerja", load_tokens(tmp_path / "none.yaml"))
    client.lapor_kinerja(AT)
    assert ctx.manifest.notes["esakip.no_tokens"] == 1


def test_tokens_file_accepts_plain_and_nested_tokens(tmp_path: Path):
    path = tmp_path / "tokens.yaml"
    path.write_text("dinkes: abc\ndpmptsp: {token: def}\n", encoding="utf-8")
    assert load_tokens(path) == {"dinkes": "abc", "dpmptsp": "def"}
