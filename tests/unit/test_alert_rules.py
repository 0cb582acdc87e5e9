"""The alert rules in config/prometheus/rules, checked and unit-tested with promtool.

promtool comes with Debian's `prometheus` package (bin/setup installs it; CI has it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from opdbus import config as config_module
from opdbus.config import REPO_ROOT

PROMETHEUS_DIR = REPO_ROOT / "config" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
PROMTOOL = shutil.which("promtool")

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus; CI has it)"
)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def alert_cases() -> list[dict[str, Any]]:
    return [
        case
        for path in TEST_FILES
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test") or []
    ]


def test_there_are_rule_files_and_promtool_tests():
    assert RULE_FILES, f"no rule files in {PROMETHEUS_DIR / 'rules'}"
    assert TEST_FILES, f"no promtool tests in {PROMETHEUS_DIR / 'tests'}"


@needs_promtool
def test_promtool_check_rules_accepts_every_rule_file():
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_test_rules_passes():
    result = promtool("test", "rules", *TEST_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_shipped_prometheus_config_loads_the_rules():
    result = promtool("check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULE_FILES:
        assert path.name in result.stdout, f"prometheus.yml's rule_files miss {path.name}"


def test_every_alert_has_a_firing_and_a_quiet_test_case():
    cases = alert_cases()
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fires == set(), f"no firing case for {sorted(names - fires)}"
    assert names - quiet == set(), f"no quiet case for {sorted(names - quiet)}"


def test_every_alert_has_a_severity_summary_and_description():
    for rule in alert_rules():
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in ("warning", "critical"), name
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), name
        assert "{{" in annotations["summary"], f"{name}: summary should name what failed"


def test_slot_lag_warning_matches_the_status_threshold_in_config():
    """`opdbus status` and the alert must call the same slot lag too high."""
    settings = config_module.load(environ={}).section("observe")
    rule = next(r for r in alert_rules() if r["alert"] == "ReplicationSlotLagHigh")
    threshold = re.search(r">\s*(\d+)\s*$", rule["expr"].strip())
    assert threshold, rule["expr"]
    assert int(threshold.group(1)) == settings["slot_lag_warn_bytes"]
