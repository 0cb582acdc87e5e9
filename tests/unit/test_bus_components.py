"""`opdbus bus up|down|status COMPONENT...` acts on the named processes only, in data-flow
order, and refuses a name the bus does not have (saying which names it has)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opdbus.config import ConfigError, load
from opdbus.stack.bus import Bus, components
from opdbus.stack.process import ManagedProcess, StackError, lower_priority
from opdbus.stack.prometheus import local_targets


def bus(tmp_path) -> Bus:
    return Bus(load({"OPDBUS_STACK__STATE_DIR": str(tmp_path)}))


def test_named_components_come_in_data_flow_order(tmp_path):
    chosen = bus(tmp_path).selected(["sink", "connector-siak", "processor"])
    assert [c.name for c in chosen] == ["connector-siak", "processor", "sink"]
    assert chosen[1].argv == ("process",)


def test_no_names_selects_every_component(tmp_path):
    every = [c.name for c in bus(tmp_path).selected()]
    assert every[-3:] == ["processor", "sink", "lag-collector"]
    assert "connector-esakip" in every


def test_an_unknown_component_is_refused_with_the_known_names(tmp_path):
    with pytest.raises(StackError) as caught:
        bus(tmp_path).selected(["sink", "procesor"])
    assert str(caught.value).startswith("no bus component procesor; the bus has: connector-siak")
    assert "processor" in str(caught.value)


def test_status_reports_only_the_named_components(tmp_path):
    assert list(bus(tmp_path).status(["sink"])) == ["sink"]


def test_each_processor_worker_runs_as_a_component_with_its_own_metrics_port(tmp_path):
    config = load({"OPDBUS_STACK__STATE_DIR": str(tmp_path), "OPDBUS_PROCESSORS__WORKERS": "3"})
    workers = [c for c in components(config) if c.argv[0] == "process"]
    assert [(c.name, c.argv) for c in workers] == [
        ("processor", ("process",)),
        ("processor-1", ("process", "--worker", "1")),
        ("processor-2", ("process", "--worker", "2")),
    ]
    ports = config.section("metrics")["ports"]
    assert [ports[c.name] for c in workers] == [9410, 9411, 9412]
    scraped = {t["labels"]["component"]: t["targets"][0] for t in local_targets(config)}
    assert scraped["processor-2"] == "127.0.0.1:9412"


@pytest.mark.parametrize("workers", ["0", "7"])
def test_processor_workers_outside_one_to_the_partition_count_are_refused(workers):
    with pytest.raises(ConfigError, match=f"processors.workers must be 1 to .*got {workers}"):
        load({"OPDBUS_PROCESSORS__WORKERS": workers})


def test_down_stops_a_worker_the_configuration_no_longer_has(tmp_path):
    shrunk = bus(tmp_path)  # processors.workers: 1
    run_dir = shrunk.layout.run
    run_dir.mkdir(parents=True)
    # A second worker started while workers was 2: its command line carries the state dir.
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "--state-dir", str(tmp_path)]
    )
    (run_dir / "processor-1.pid").write_text(str(worker.pid))
    try:
        # Popen returns once the exec began; the kernel fills in the command line a moment
        # later, and on a busy machine that moment can be seen.
        started = ManagedProcess("processor-1", run_dir, marker=str(tmp_path))
        deadline = time.monotonic() + 10
        while not started.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(shrunk.leftovers()) == ["processor-1"]
        stopped: list[str] = []
        shrunk.down(progress=stopped.append, names=["processor-1"])
        assert worker.wait(timeout=30) is not None
        assert [line.split()[0] for line in stopped] == ["processor-1"]
        assert shrunk.leftovers() == {}
    finally:
        worker.kill()


def test_connectors_yield_the_cpu_and_the_stages_after_them_do_not(tmp_path):
    config = load({"OPDBUS_STACK__STATE_DIR": str(tmp_path)})
    nice = config.section("bus")["nice"]
    by_kind = {c.name: nice[c.kind] for c in components(config)}
    assert by_kind["connector-siak"] == by_kind["connector-esakip"] == 10
    assert by_kind["processor"] == by_kind["sink"] == by_kind["lag-collector"] == 0


def test_a_started_process_and_its_session_run_at_the_nice_asked(tmp_path):
    # A session of its own, as the bus starts every process (its own autogroup, if enabled).
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        lower_priority(sleeper.pid, 7)
        assert os.getpriority(os.PRIO_PROCESS, sleeper.pid) == 7
        autogroup = Path(f"/proc/{sleeper.pid}/autogroup")
        if autogroup.exists():
            assert autogroup.read_text().split()[-2:] == ["nice", "7"]
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPDBUS_BUS__NICE__CONNECTOR": "20"}, "bus.nice.connector must be a whole number 0-19"),
        ({"OPDBUS_BUS__NICE__SINK": "-5"}, "bus.nice.sink must be a whole number 0-19, got -5"),
        ({"OPDBUS_BUS__NICE__CONECTOR": "5"}, "bus.nice.conector: no such kind"),
    ],
)
def test_a_nice_outside_0_to_19_or_for_an_unknown_kind_is_refused(env, message):
    with pytest.raises(ConfigError, match=message):
        load(env)
