"""The simulated OPD systems on the real PostgreSQL: `opdbus simulate setup` and `run` as a user
runs them, in a throwaway database, checked against the manifest of what was generated."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
import yaml

from opdbus import rules
from opdbus.config import Config
from opdbus.simulator.esakip import REQUIRED
from opdbus.simulator.manifest import Manifest
from opdbus.simulator.perizinan import ALLOWED, FINAL
from opdbus.stack.manager import Stack
from opdbus.stack.process import free_port

from .cli import opdbus

AS_OF = "2026-11-23T09:00:00+07:00"  # a Monday morning
START = "2026-11-23T10:00:00+07:00"
TODAY = dt.date(2026, 11, 23)
CITIZENS = 20_000
ACTIVITIES = 4_000
PENDUDUK_REQUIRED = ("no_kk", "nama", "tanggal_lahir", "jenis_kelamin", "kode_kelurahan", "status")


@dataclass
class Simulated:
    database: str
    url: str
    env: dict[str, str]
    drop: Path
    setup: Manifest
    run: Manifest
    setup_output: str
    run_output: str

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql.encode(), params).fetchall()

    def bad_keys(self, table: str) -> set[str]:
        return tagged(self.setup, table) | tagged(self.run, table)


def tagged(manifest: Manifest, table: str) -> set[str]:
    """Keys of the records the simulator says it made bad."""
    return {record.key for record in manifest.bad if record.table == table}


@pytest.fixture(scope="module")
def databases(stack: Stack, config: Config) -> Iterator[Any]:
    """Makes throwaway databases for this module; drops them afterwards."""
    made: list[str] = []
    admin = psycopg.connect(config.postgres_url("opdbus"), autocommit=True)

    def make() -> str:
        name = f"test_simulator_{uuid.uuid4().hex[:10]}"
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
        made.append(name)
        return name

    yield make
    for name in made:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    admin.close()


def simulate(
    config: Config, database: str, directory: Path, *run_args: str, citizens: int = CITIZENS
) -> Simulated:
    """Setup then run, through the CLI, with every simulated system in `database`."""
    directory.mkdir(parents=True, exist_ok=True)
    overlay = directory / "overlay.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {"sources": {s: {"database": database} for s in ("siak", "perizinan", "keuangan")}}
        )
    )
    env = {"OPDBUS_CONFIG": str(overlay)}
    drop = directory / "drop"
    setup = opdbus(
        "simulate",
        "setup",
        "--citizens",
        str(citizens),
        "--as-of",
        AS_OF,
        "--history-days",
        "14",
        "--manifest",
        str(directory / "setup.json"),
        env=env,
    )
    assert setup.returncode == 0, setup.stderr
    run = opdbus(
        "simulate",
        "run",
        "--start",
        START,
        "--no-pace",
        "--rate",
        "500",
        "--drop-dir",
        str(drop),
        "--manifest",
        str(directory / "run.json"),
        *run_args,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    return Simulated(
        database=database,
        url=config.postgres_url(database),
        env=env,
        drop=drop,
        setup=Manifest.read(directory / "setup.json"),
        run=Manifest.read(directory / "run.json"),
        setup_output=setup.stdout,
        run_output=run.stdout,
    )


@pytest.fixture(scope="module")
def simulated(
    config: Config, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> Simulated:
    directory = tmp_path_factory.mktemp("simulated")
    closed = f"http://127.0.0.1:{free_port()}/v1/kinerja"  # nothing listens: must not crash
    tokens = directory / "tokens.yaml"
    tokens.write_text("dinkes: token-dinkes\ndpmptsp: token-dpmptsp\n")
    return simulate(
        config,
        databases(),
        directory,
        "--activities",
        str(ACTIVITIES),
        "--esakip-url",
        closed,
        "--esakip-tokens",
        str(tokens),
    )


# --- setup ---


def test_setup_creates_the_source_tables_with_full_replica_identity_for_cdc(simulated):
    identity = dict(
        simulated.query(
            "SELECT relname, relreplident::text FROM pg_class WHERE relname = ANY(%s)",
            ["penduduk", "permohonan", "riwayat_status", "anggaran", "realisasi"],
        )
    )
    assert identity == {
        "penduduk": "f",
        "permohonan": "f",
        "riwayat_status": "f",
        "anggaran": "d",
        "realisasi": "d",
    }


def test_the_trigger_stamps_updated_at_with_the_transaction_start(simulated):
    with psycopg.connect(simulated.url) as conn:
        started = conn.execute(b"SELECT now()").fetchone()[0]
        nik = conn.execute(b"SELECT nik FROM penduduk WHERE status = 'HIDUP' LIMIT 1").fetchone()[0]
        conn.execute(b"UPDATE penduduk SET nama = nama WHERE nik = %s", (nik,))
        stamped = conn.execute(b"SELECT updated_at FROM penduduk WHERE nik = %s", (nik,))
        assert stamped.fetchone()[0] == started
        conn.rollback()


def test_setup_seeds_the_requested_population_and_a_second_setup_adds_nothing(simulated):
    assert "20,000 citizens seeded" in simulated.setup_output
    before = simulated.query(
        "SELECT (SELECT count(*) FROM permohonan), (SELECT count(*) FROM anggaran)"
    )
    again = opdbus(
        "simulate", "setup", "--citizens", str(CITIZENS), "--as-of", AS_OF, env=simulated.env
    )
    assert again.returncode == 0, again.stderr
    assert "already seeded" in again.stdout
    inserted = simulated.run.notes["siak.penduduk.inserted"]
    assert simulated.query("SELECT count(*) FROM penduduk") == [(CITIZENS + inserted,)]
    after = simulated.query(
        "SELECT (SELECT count(*) FROM permohonan), (SELECT count(*) FROM anggaran)"
    )
    assert after == before


def test_seeded_records_are_valid_except_the_tagged_ones(simulated):
    bad = tagged(simulated.setup, "penduduk")
    assert len(bad) > CITIZENS * 0.005
    untagged_invalid = []
    for nik, jk, lahir, kelurahan, *rest in simulated.query(
        "SELECT nik, jenis_kelamin, tanggal_lahir, kode_kelurahan, no_kk, nama, status "
        "FROM penduduk WHERE updated_at = (SELECT min(updated_at) FROM penduduk)"
    ):
        problems = rules.nik_violations(nik, jk, today=TODAY)
        if not problems and lahir is not None:
            problems = [] if rules.nik_birth_date(nik, today=TODAY) == lahir else ["date"]
        if kelurahan not in rules.kelurahan_codes() or None in (jk, lahir, *rest):
            problems.append("column")
        if problems and nik not in bad:
            untagged_invalid.append((nik, problems))
        if nik in bad:
            assert problems, f"{nik} is tagged but valid"
    assert untagged_invalid == []


# --- run: what the manifest says is in the database ---


def test_the_run_did_every_kind_of_activity(simulated):
    kinds = simulated.run.activities
    for kind in (
        "lahir",
        "datang",
        "pindah_dalam",
        "pindah_keluar",
        "meninggal",
        "koreksi_nama",
        "permohonan",
        "transisi",
        "revisi_anggaran",
        "ekspor_target",
        "lapor_kinerja",
        "sp2d",
    ):
        assert kinds[kind] > 0, kind
    assert sum(kinds.values()) == ACTIVITIES
    assert "activities: 4,000" in simulated.run_output


def test_row_counts_match_the_manifests(simulated):
    setup, run = simulated.setup.records, simulated.run.records
    permohonan = simulated.query("SELECT count(*) FROM permohonan")[0][0]
    history = simulated.query("SELECT count(*) FROM riwayat_status")[0][0]
    sp2d = simulated.query("SELECT count(*) FROM realisasi")[0][0]
    assert permohonan == simulated.setup.info["permohonan"] + simulated.run.activities["permohonan"]
    assert history == setup["perizinan.riwayat_status"] + run["perizinan.riwayat_status"]
    assert sp2d == setup["keuangan.realisasi"] + run["keuangan.realisasi"]
    assert simulated.run.activities["sp2d"] == run["keuangan.realisasi"]


def test_bad_rows_of_the_run_are_in_the_database_and_tagged(simulated):
    run = simulated.run
    rows = sum(run.records.values())
    assert 0.004 < len(run.bad) / rows < 0.02  # the default 1% share, per record
    kinds = run.bad_counts
    assert kinds["kelurahan_unknown"] > 0 and kinds["missing_field"] > 0
    assert any(kind.startswith("nik_") for kind in kinds)
    present = {nik for (nik,) in simulated.query("SELECT nik FROM penduduk")}
    assert tagged(run, "penduduk") <= present
    ids = {str(i) for (i,) in simulated.query("SELECT id_permohonan FROM permohonan")}
    assert tagged(run, "permohonan") <= ids


def test_every_invalid_penduduk_row_is_tagged(simulated):
    tagged = simulated.bad_keys("penduduk")
    statuses = {"HIDUP", "PINDAH", "MENINGGAL"}
    for nik, jk, kelurahan, status, *rest in simulated.query(
        "SELECT nik, jenis_kelamin, kode_kelurahan, status, no_kk, nama, tanggal_lahir "
        "FROM penduduk"
    ):
        invalid = (
            rules.nik_violations(nik, jk, today=TODAY + dt.timedelta(days=30))
            or kelurahan not in rules.kelurahan_codes()
            or status not in statuses
            or None in (jk, *rest)
        )
        assert not invalid or nik in tagged, nik


def test_every_invalid_permohonan_and_history_row_is_tagged(simulated):
    tagged = simulated.bad_keys("permohonan")
    for app_id, nik, kelurahan, *required in simulated.query(
        "SELECT id_permohonan, nik_pemohon, kode_kelurahan, nomor_permohonan, jenis_izin, "
        "tanggal_pengajuan FROM permohonan"
    ):
        invalid = (
            nik is None
            or rules.nik_violations(nik, today=TODAY)
            or kelurahan not in rules.kelurahan_codes()
            or None in required
        )
        assert not invalid or str(app_id) in tagged, app_id
    missing_time = {
        str(i) for (i,) in simulated.query("SELECT id FROM riwayat_status WHERE waktu IS NULL")
    }
    assert missing_time and missing_time <= simulated.bad_keys("riwayat_status")


def test_every_incomplete_budget_or_payment_row_is_tagged(simulated):
    for table, columns in (
        ("anggaran", "kode_program, kode_kegiatan, nama_kegiatan, pagu, rencana_kas"),
        ("realisasi", "nomor_sp2d, tanggal_sp2d, kode_opd, kode_kegiatan, nilai, uraian"),
    ):
        incomplete = {
            str(i)
            for (i,) in simulated.query(f"SELECT id FROM {table} WHERE num_nulls({columns}) > 0")
        }
        assert incomplete <= simulated.bad_keys(table), table


def test_applications_move_only_along_allowed_edges(simulated):
    histories: dict[int, list[str]] = {}
    for app_id, status in simulated.query(
        "SELECT id_permohonan, status FROM riwayat_status ORDER BY id_permohonan, id"
    ):
        histories.setdefault(app_id, []).append(status)
    current = dict(simulated.query("SELECT id_permohonan, status FROM permohonan"))
    decided = dict(simulated.query("SELECT id_permohonan, tanggal_keputusan FROM permohonan"))
    for app_id, statuses in histories.items():
        previous = None
        for status in statuses:
            assert status in ALLOWED[previous], (app_id, statuses)
            previous = status
        assert current[app_id] == statuses[-1]
        assert (decided[app_id] is not None) == (statuses[-1] in FINAL)


def test_budget_absorption_so_far_follows_the_cash_plan(simulated):
    ((paid, planned_to_oct, pagu),) = simulated.query(
        "SELECT (SELECT sum(nilai) FROM realisasi WHERE tanggal_sp2d < '2026-11-01'), "
        "(SELECT sum(k) FROM anggaran, unnest(rencana_kas[1:10]) k WHERE pagu IS NOT NULL), "
        "(SELECT sum(pagu) FROM anggaran)"
    )
    assert 0.85 < paid / planned_to_oct < 1.0
    assert 0.5 < paid / pagu < 0.9


def test_bappeda_files_are_dropped_whole_and_bad_lines_are_tagged(simulated):
    files = sorted(simulated.drop.iterdir())
    assert files and not [f for f in files if f.name.endswith(".part")]
    assert {f.suffix for f in files} <= {".csv", ".xlsx"}
    names = {f.name for f in files}
    for key in tagged(simulated.run, "target"):
        assert key.rsplit(":", 1)[0] in names


def test_an_unreachable_esakip_is_counted_not_fatal(simulated):
    assert simulated.run.notes["esakip.unreachable"] == simulated.run.activities["lapor_kinerja"]
    assert "esakip.unreachable" in simulated.run_output


# --- e-SAKIP over real HTTP ---


class PushAPI(BaseHTTPRequestHandler):
    """A stand-in following the push API contract's shape checks (202 / 401 / 422)."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        record = {"auth": self.headers["Authorization"], "id": self.headers["X-Request-Id"], **body}
        PushAPI.received.append(record)
        errors = [
            {"item": i, "field": field, "rule": "is required"}
            for i, item in enumerate(body["items"])
            for field in REQUIRED
            if field not in item
        ] + [
            {"item": i, "field": "realisasi", "rule": "must be a number"}
            for i, item in enumerate(body["items"])
            if not isinstance(item.get("realisasi", 0.0), float)
        ]
        status = 422 if errors else 202
        record["status"] = status
        answer = json.dumps({"errors": errors} if errors else {"accepted": len(body["items"])})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args: Any) -> None:
        pass


def test_esakip_pushes_carry_the_opds_token_a_request_id_and_the_contract_fields(
    simulated, tmp_path: Path
):
    server = ThreadingHTTPServer(("127.0.0.1", 0), PushAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("dinkes: token-dinkes\n")
    try:
        pushed = opdbus(
            "simulate",
            "run",
            "--systems",
            "esakip",
            "--activities",
            "40",
            "--no-pace",
            "--bad-share",
            "0.2",
            "--start",
            START,
            "--esakip-tokens",
            str(tokens),
            "--esakip-url",
            f"http://127.0.0.1:{server.server_port}/v1/kinerja",
            "--manifest",
            str(tmp_path / "esakip.json"),
            env=simulated.env,
        )
    finally:
        server.shutdown()
    assert pushed.returncode == 0, pushed.stderr
    manifest = Manifest.read(tmp_path / "esakip.json")
    assert PushAPI.received and all(r["auth"] == "Bearer token-dinkes" for r in PushAPI.received)
    assert len({r["id"] for r in PushAPI.received}) == len(PushAPI.received)
    assert manifest.bad and manifest.notes["esakip.rejected.422"] > 0
    accepted = [r for r in PushAPI.received if r["status"] == 202]
    assert manifest.records["esakip.kinerja"] == sum(len(r["items"]) for r in accepted)


# --- determinism and failure ---


def test_the_same_seed_produces_the_same_rows_and_the_same_bad_records(
    config: Config, databases: Any, tmp_path: Path
):
    args = ("--activities", "1500", "--systems", "siak,perizinan,keuangan", "--seed", "21")
    first = simulate(config, databases(), tmp_path / "a", *args, citizens=3000)
    second = simulate(config, databases(), tmp_path / "b", *args, citizens=3000)
    for sql in (
        "SELECT nik, no_kk, nama, tanggal_lahir, jenis_kelamin, kode_kelurahan, status "
        "FROM penduduk ORDER BY nik",
        "SELECT id_permohonan, nomor_permohonan, nik_pemohon, status, tanggal_keputusan "
        "FROM permohonan ORDER BY 1",
        "SELECT id, id_permohonan, status, waktu FROM riwayat_status ORDER BY 1",
        "SELECT id, nomor_sp2d, tanggal_sp2d, nilai FROM realisasi ORDER BY 1",
    ):
        assert first.query(sql) == second.query(sql), sql
    assert first.run.bad == second.run.bad and first.setup.bad == second.setup.bad


def test_a_database_that_does_not_exist_fails_with_one_clear_line(tmp_path: Path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("sources: {siak: {database: test_simulator_no_such_db}}\n")
    result = opdbus("simulate", "setup", "--citizens", "10", env={"OPDBUS_CONFIG": str(overlay)})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("opdbus: error: ")
    assert "test_simulator_no_such_db" in result.stderr
