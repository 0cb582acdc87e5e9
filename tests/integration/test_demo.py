"""The README's first command, small: `opdbus demo` runs the whole pipeline on the local stack,
and the stack's real Prometheus scrapes every component it started."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import psycopg
import pytest

from opdbus.stack.bus import Bus, components

from .cli import opdbus


def prometheus_query(url: str, query: str) -> list[dict]:
    with urllib.request.urlopen(
        f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=10
    ) as response:
        return json.load(response)["data"]["result"]


@pytest.fixture
def demo_run(stack, config):
    done = opdbus("demo", "--citizens", "3000", "--duration", "15", "--rate", "40", timeout=900)
    yield done
    Bus(config).down(progress=lambda line: None)


def test_the_demo_runs_the_pipeline_end_to_end_and_prometheus_scrapes_every_component(
    demo_run, config
):
    assert demo_run.returncode == 0, demo_run.stdout[-3000:] + demo_run.stderr[-3000:]
    assert "Stop everything with: opdbus stack down" in demo_run.stdout
    report = config.state_dir / "report" / "monev.html"
    assert report.exists() and "Laporan Monitoring dan Evaluasi" in report.read_text()

    with psycopg.connect(config.postgres_url("opdbus")) as conn:
        for table in ("perizinan", "keuangan", "penduduk"):
            (rows,) = conn.execute(f"SELECT count(*) FROM unified.{table}").fetchone()
            assert rows > 0, f"unified.{table} is empty after the demo"

    wanted = {c.name for c in components(config)}
    deadline = time.monotonic() + 60
    while True:  # Prometheus scrapes every 5 s; targets were rewritten when the demo began
        up = {
            r["metric"]["component"]: r["value"][1]
            for r in prometheus_query(config.prometheus_url, 'up{job="opdbus"}')
        }
        if all(up.get(name) == "1" for name in wanted) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert {name: up.get(name) for name in wanted} == dict.fromkeys(wanted, "1")
    published = prometheus_query(
        config.prometheus_url, 'sum(opdbus_events_out_total{stage="connector"})'
    )
    assert float(published[0]["value"][1]) > 0
    latency = prometheus_query(config.prometheus_url, "sum(opdbus_end_to_end_seconds_count)")
    assert float(latency[0]["value"][1]) > 0
