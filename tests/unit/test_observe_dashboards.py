"""Grafana dashboards in config/grafana/dashboards: they parse, compose provisions them, every
panel uses the provisioned Prometheus datasource, and every query names only metrics opdbus
defines (a renamed metric must not leave a panel silently empty)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from opdbus.config import REPO_ROOT

GRAFANA_DIR = REPO_ROOT / "config" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
# Where metrics are defined: the shared ones, each stage's own, and the lag collector's.
METRIC_SOURCES = [
    *REPO_ROOT.glob("*/metrics.py"),
    *REPO_ROOT.glob("connectors/*/metrics.py"),
    REPO_ROOT / "opdbus" / "observe" / "lag.py",
]
# Series Prometheus makes itself.
BUILTIN_SERIES = {"up"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
PROMQL_WORDS |= {"and", "or", "unless", "offset", "inf", "nan"}


def defined_metrics() -> set[str]:
    names: set[str] = set()
    for path in METRIC_SOURCES:
        text = path.read_text(encoding="utf-8")
        kinds = r"(Counter|Gauge|Histogram|Delays|Summary)"
        for kind, name in re.findall(kinds + r"\(\s*\"(\w+)\"", text):
            names.add(name)
            if kind in ("Histogram", "Delays", "Summary"):
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (functions, keywords, labels removed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges, $__rate_interval
    expr = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr
    )  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", expr):  # not inside 5m, 1e3
        word = match.group(0)
        following = expr[match.end() :].lstrip()
        if following.startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function or aggregation, or a keyword
        names.add(word)
    return names


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))  # inside collapsed rows
    return out


def provisioned_datasource_uids() -> set[str]:
    return {
        source["uid"]
        for path in (GRAFANA_DIR / "provisioning" / "datasources").glob("*.y*ml")
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    }


@pytest.fixture(scope="module", params=DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return json.loads(Path(request.param).read_text(encoding="utf-8"))


def test_the_metric_name_extractor_sees_selectors_not_functions_or_labels():
    expr = (
        'histogram_quantile(0.99, sum by (source, le) (rate(a_bucket{x="y"}[5m]))) '
        "> on (source) group_left max by (source) (b) and time() - c offset 5m"
    )
    assert metric_names(expr) == {"a_bucket", "b", "c"}


def test_there_is_an_operator_dashboard():
    assert any(p.name == "opdbus-operator.json" for p in DASHBOARDS), DASHBOARDS


def test_dashboard_has_uid_title_and_panels(dashboard):
    assert dashboard["uid"] and dashboard["title"], "provisioned dashboards need uid and title"
    assert [p for p in panels(dashboard) if p["type"] != "row"], "no panels"


def test_dashboard_uids_are_unique():
    uids = [json.loads(p.read_text(encoding="utf-8"))["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids)), uids


def test_every_panel_and_query_uses_the_provisioned_prometheus(dashboard):
    uids = provisioned_datasource_uids()
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        sources = [panel.get("datasource")] + [t.get("datasource") for t in panel["targets"]]
        for source in sources:
            assert source and source.get("uid") in uids, (
                f"panel {panel['title']!r}: datasource {source} is not one of {sorted(uids)}"
            )


def test_every_query_names_only_metrics_opdbus_defines(dashboard):
    known = defined_metrics() | BUILTIN_SERIES
    assert "opdbus_consumer_lag_messages" in known and "opdbus_events_out_total" in known
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" not in target:  # SQL panels: next test
                continue
            unknown = metric_names(target["expr"]) - known
            assert not unknown, f"panel {panel['title']!r} queries undefined {sorted(unknown)}"


def monev_views() -> set[str]:
    sql = (REPO_ROOT / "sinks" / "sql" / "monev_views.sql").read_text(encoding="utf-8")
    return set(re.findall(r"CREATE VIEW (monev\.\w+)", sql))


def test_there_is_an_m_and_e_dashboard_over_the_monev_views():
    monev = json.loads((GRAFANA_DIR / "dashboards" / "opdbus-monev.json").read_text())
    read = {
        view
        for panel in panels(monev)
        for target in panel.get("targets", [])
        for view in re.findall(r"\b(monev\.\w+)", target.get("rawSql", ""))
    }
    assert read == monev_views(), f"views without a panel: {sorted(monev_views() - read)}"


def test_every_sql_query_reads_only_monev_views(dashboard):
    views = monev_views()
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            sql = target.get("rawSql")
            if sql is None:
                continue
            # Relations, not functions (extract(year FROM now()) reads no table).
            found = re.findall(r"\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)\b(?!\s*\()", sql, re.I)
            tables = set(found)
            assert tables and tables <= views, f"panel {panel['title']!r} reads {sorted(tables)}"


def test_compose_mounts_the_folder_the_provider_reads():
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))
    mounts = {}
    for volume in compose["services"]["grafana"]["volumes"]:
        source, target = str(volume).split(":")[:2]
        mounts[target] = source
    providers = [
        provider
        for path in (GRAFANA_DIR / "provisioning" / "dashboards").glob("*.y*ml")
        for provider in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]
    ]
    assert providers, "no dashboard provider in config/grafana/provisioning/dashboards"
    for provider in providers:
        path = provider["options"]["path"]
        assert path in mounts, f"provider reads {path}, which compose does not mount"
        assert (REPO_ROOT / mounts[path]).resolve() == GRAFANA_DIR / "dashboards"
