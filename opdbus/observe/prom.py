"""The few Prometheus HTTP API calls status needs (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

# The job every opdbus component is scraped in (config/prometheus/prometheus.yml).
JOB = "opdbus"


class PrometheusUnavailable(RuntimeError):
    """Prometheus did not answer, or answered with an error."""


def query(base_url: str, promql: str, timeout_s: float) -> list[dict[str, Any]]:
    """An instant query; returns the result vector (metric labels + value)."""
    url = f"{base_url.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusUnavailable(f"Prometheus at {base_url} unreachable ({reason})") from exc
    if body.get("status") != "success":
        raise PrometheusUnavailable(f"Prometheus at {base_url}: {body.get('error', body)}")
    return body["data"]["result"]


def component_states(base_url: str, timeout_s: float) -> dict[str, bool]:
    """component -> whether its last scrape succeeded (several instances: all must be up)."""
    states: dict[str, bool] = {}
    for series in query(base_url, f'up{{job="{JOB}"}}', timeout_s):
        component = series["metric"].get("component") or series["metric"].get("instance", "?")
        up = float(series["value"][1]) == 1
        states[component] = states.get(component, True) and up
    return states
