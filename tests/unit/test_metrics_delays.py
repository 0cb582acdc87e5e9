"""opdbus.metrics.Delays: a batch of delays observed at once is exposed exactly as
prometheus_client's Histogram exposes the same values observed one by one."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest

from opdbus.metrics import Delays

BUCKETS = (0.01, 0.1, 1, 10)
VALUES = [0.0, 0.01, 0.010001, 0.5, 1, 3, 10, 11, 4000]  # on, beside and past every bound


def samples(text: bytes, name: str) -> list[str]:
    return sorted(
        line
        for line in text.decode().splitlines()
        if line.startswith(name) and "_created" not in line
    )


def test_a_batch_of_delays_is_exposed_as_a_histogram_of_the_same_values_would_be():
    delays = Delays("opdbus_test_batch_seconds", "test", "source", BUCKETS)
    delays.observe_all("siak", VALUES[:4])
    delays.observe_all("siak", VALUES[4:])
    delays.observe_all("perizinan", [0.2])
    own = CollectorRegistry()
    reference = Histogram(
        "opdbus_test_batch_seconds", "test", ["source"], buckets=BUCKETS, registry=own
    )
    for value in VALUES:
        reference.labels("siak").observe(value)
    reference.labels("perizinan").observe(0.2)
    name = "opdbus_test_batch_seconds"
    assert samples(generate_latest(REGISTRY), name) == samples(generate_latest(own), name)
    assert REGISTRY.get_sample_value(f"{name}_count", {"source": "siak"}) == len(VALUES)
    assert REGISTRY.get_sample_value(f"{name}_bucket", {"source": "siak", "le": "1.0"}) == 5


def test_delays_since_source_commits_count_to_now_and_never_below_zero():
    delays = Delays("opdbus_test_since_seconds", "test", "source", BUCKETS)
    now_ms = int(time.time() * 1000)
    delays.observe_since("siak", [now_ms - 5000, now_ms + 60_000])  # a source clock ahead
    name = "opdbus_test_since_seconds"
    assert REGISTRY.get_sample_value(f"{name}_bucket", {"source": "siak", "le": "0.01"}) == 1
    assert REGISTRY.get_sample_value(f"{name}_bucket", {"source": "siak", "le": "1.0"}) == 1
    assert REGISTRY.get_sample_value(f"{name}_bucket", {"source": "siak", "le": "10.0"}) == 2
    assert 5 <= REGISTRY.get_sample_value(f"{name}_sum", {"source": "siak"}) < 10
