"""opdbus.metrics.Delays: a batch of delays observed at once is exposed exactly as
prometheus_client's Histogram exposes the same values observed one by one."""

from __future__ import annotations

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
