"""compose.yaml, checked without a Docker engine.

The file is parsed and every reference in it (services, build files, mounts, Prometheus
targets, broker settings, secrets) is resolved against this repository and against the local
stack's own settings, so the two ways of running opdbus cannot drift apart unnoticed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from opdbus import config as config_module
from opdbus.config import REPO_ROOT, Config
from opdbus.stack.kafka import server_properties

COMPOSE_FILE = REPO_ROOT / "compose.yaml"
PROMETHEUS_DIR = REPO_ROOT / "config" / "prometheus"
BUS_DOCKERFILE = REPO_ROOT / "docker" / "opdbus.Dockerfile"
# Besides the local stack's services, compose adds Grafana and the bus's own processes.
EXTRA_SERVICES = {"grafana", "opdbus-init", "demo"}
# ${VAR} or ${VAR:?message}; a default (${VAR:-x}) would put a literal secret in the file.
SECRET_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}$")
# DESIGN.md names these explicitly; the rest come from the local stack's broker settings.
SINGLE_NODE_KAFKA_KEYS = {
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    return compose["services"]


@pytest.fixture(scope="module")
def shipped() -> Config:
    # config/opdbus.yaml alone: the test runner's own OPDBUS_* variables must not leak in.
    return config_module.load(environ={})


# --- reading compose's short and long syntaxes -------------------------------------------


def env_of(service: Service) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}


def depends_of(service: Service) -> dict[str, str]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def published_of(service: Service) -> list[tuple[str, str, int]]:
    """(host_ip, host_port, container_port) for each published port; '' for no host_ip."""
    out = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.append(
                (port.get("host_ip", ""), str(port.get("published", "")), int(port["target"]))
            )
            continue
        parts = str(port).split("/")[0].split(":")
        host_ip = parts[0] if len(parts) == 3 else ""
        host_port = parts[-2] if len(parts) >= 2 else ""
        out.append((host_ip, host_port, int(parts[-1])))
    return out


def listen_ports_of(service: Service) -> set[int]:
    exposed = {int(str(p).split("/")[0]) for p in service.get("expose") or []}
    return exposed | {container for _, _, container in published_of(service)}


def mounts_of(service: Service) -> list[tuple[str, str, str]]:
    """(kind, source, target) with kind 'bind' or 'volume'."""
    out = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            out.append((volume["type"], volume.get("source", ""), volume["target"]))
            continue
        source, target = str(volume).split(":")[:2]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target))
    return out


def kafka_listeners(service: Service, var: str = "KAFKA_LISTENERS") -> dict[str, tuple[str, int]]:
    """Listener name -> (host, port) from KAFKA_LISTENERS or KAFKA_ADVERTISED_LISTENERS."""
    out = {}
    for item in env_of(service)[var].split(","):
        name, address = item.strip().split("://")
        host, port = address.rsplit(":", 1)
        out[name] = (host, int(port))
    return out


def build_of(service: Service) -> tuple[Path, Path] | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = (REPO_ROOT / build.get("context", ".")).resolve()
    return context, (context / build.get("dockerfile", "Dockerfile")).resolve()


def image_tag(ref: str) -> str | None:
    last = ref.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def dockerfile_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def dockerfile_bases(path: Path) -> list[str]:
    bases, stages = [], set()
    for line in dockerfile_lines(path):
        words = line.split()
        if words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2].lower())
        if args[0].lower() not in stages | {"scratch"}:
            bases.append(args[0])
    return bases


def bus_services(services: dict[str, Service]) -> dict[str, Service]:
    return {
        name: svc
        for name, svc in services.items()
        if (build := build_of(svc)) and build[1] == BUS_DOCKERFILE
    }


def config_seen_by(service: Service) -> Config:
    """The configuration a bus process loads inside its container (secrets as placeholders)."""
    env = {k: ("placeholder" if v.startswith("${") else v) for k, v in env_of(service).items()}
    return config_module.load(environ=env)


def prometheus_mount(services: dict[str, Service]) -> tuple[Service, PurePosixPath]:
    for svc in services.values():
        if str(svc.get("image", "")).startswith("prom/prometheus"):
            for kind, source, target in mounts_of(svc):
                if kind == "bind" and (REPO_ROOT / source).resolve() == PROMETHEUS_DIR:
                    return svc, PurePosixPath(target)
            pytest.fail("the prometheus service does not bind-mount config/prometheus")
    pytest.fail("no service runs prom/prometheus")


def prometheus_host_path(path: str, config_dir: PurePosixPath, mount: PurePosixPath) -> Path:
    """Map a path from prometheus.yml (relative: to the config file's folder) to the repo."""
    in_container = PurePosixPath(os.path.normpath(config_dir / path))
    assert in_container.is_relative_to(mount), (
        f"prometheus.yml path {path!r} resolves to {in_container}, outside the mount {mount}"
    )
    return PROMETHEUS_DIR / in_container.relative_to(mount)


# --- the tests -----------------------------------------------------------------------------


def test_compose_uses_the_compose_specification_without_a_version_key(compose):
    assert "version" not in compose, "`version:` is obsolete in the Compose Specification"


def test_every_local_stack_service_grafana_and_bus_process_has_a_service(services, shipped):
    local_stack = {name for name, conf in shipped.stack.items() if isinstance(conf, dict)}
    assert {"kafka", "registry", "postgres", "prometheus"} <= local_stack
    missing = (local_stack | EXTRA_SERVICES) - services.keys()
    assert not missing, f"compose.yaml lacks services {sorted(missing)}"
    bus = bus_services(services)
    metered = set(shipped.section("metrics")["ports"])
    not_bus = ({"opdbus-init", "demo"} | metered) - bus.keys()
    assert not not_bus, f"{sorted(not_bus)} must be built from {BUS_DOCKERFILE.name}"


def test_every_image_is_pinned_to_a_tag_other_than_latest(services):
    refs = {f"service {name}": svc["image"] for name, svc in services.items() if "image" in svc}
    for name, svc in services.items():
        # A missing Dockerfile is reported by the build-file test, not here.
        if (build := build_of(svc)) and build[1].is_file():
            for base in dockerfile_bases(build[1]):
                refs[f"{build[1].name} (service {name})"] = base
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, f"service {name} has neither image nor build"
    for where, ref in refs.items():
        tag = image_tag(ref)
        assert "@sha256:" in ref or tag, f"{where}: image {ref!r} has no tag"
        assert tag != "latest", f"{where}: image {ref!r} is pinned to `latest`"
        assert "${" not in ref, f"{where}: image {ref!r} depends on a variable"


def test_every_depends_on_names_an_existing_service(services):
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        for dep, condition in depends_of(svc).items():
            assert dep in services, f"{name} depends on {dep!r}, which is not a service"
            assert condition in conditions, f"{name} -> {dep}: unknown condition {condition!r}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s healthcheck"


def test_bus_processes_wait_for_init_and_init_for_a_ready_stack(services):
    init = depends_of(services["opdbus-init"])
    for needed in ("kafka", "registry"):
        assert init.get(needed) == "service_healthy", f"opdbus-init must wait for {needed}: {init}"
    demo = depends_of(services["demo"])
    assert demo.get("opdbus-init") == "service_completed_successfully", (
        f"demo must start only after opdbus-init exited 0, depends_on is {demo}"
    )
    assert services["opdbus-init"].get("command") == ["init"]
    assert services["demo"].get("command") == ["demo", "--external"]


def test_connectors_yield_the_cpu_to_the_processor_and_the_sink(services):
    # As bus.nice does on the local stack (docs/decisions/0017-ingest-yields.md).
    connectors = {n: s for n, s in services.items() if s.get("command", [""])[0] == "connect"}
    assert len(connectors) == 5
    downstream = min(services[name].get("cpu_shares", 1024) for name in ("processor", "sink"))
    for name, service in connectors.items():
        assert service.get("cpu_shares", 1024) < downstream, f"{name} does not yield the CPU"


def test_every_bind_mount_source_and_build_file_exists_in_the_repo(compose, services):
    declared_volumes = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for kind, source, _target in mounts_of(svc):
            if kind == "bind":
                assert (REPO_ROOT / source).exists(), f"{name}: bind source {source} is missing"
            else:
                assert source in declared_volumes, f"{name}: volume {source!r} is not declared"
        if not (build := build_of(svc)):
            continue
        context, dockerfile = build
        assert context.is_dir(), f"{name}: build context {context} is missing"
        assert dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} is missing"
        for line in dockerfile_lines(dockerfile):
            words = line.split()
            if words[0].upper() not in ("COPY", "ADD") or any("--from" in w for w in words):
                continue
            for source in [w for w in words[1:-1] if not w.startswith("--")]:
                assert (context / source).exists() or any(context.glob(source)), (
                    f"{dockerfile.name}: `{line}` copies {source}, absent from {context}"
                )


def test_no_password_is_written_literally(services):
    checked = 0
    for name, svc in services.items():
        for key, value in env_of(svc).items():
            if "PASSWORD" in key.upper():
                checked += 1
                assert SECRET_REF.match(value), (
                    f"{name}: {key} must be a ${{VAR}} or ${{VAR:?msg}} reference, got {value!r}"
                )
            if (userinfo := re.search(r"://[^/@\s]+:([^@/\s]+)@", value)) is not None:
                assert userinfo.group(1).startswith("${"), f"{name}: {key} embeds a password"
    assert checked >= 3, "expected postgres, registry and bus processes to take a password"


def test_prometheus_mount_resolves_rule_files_and_file_sd_paths(services):
    svc, mount = prometheus_mount(services)
    flags = dict(arg.split("=", 1) for arg in svc.get("command") or [] if "=" in arg)
    config_file = PurePosixPath(flags.get("--config.file", "/etc/prometheus/prometheus.yml"))
    config_dir = config_file.parent
    host_config = prometheus_host_path(config_file.name, config_dir, mount)
    assert host_config.is_file(), f"--config.file {config_file} is not in the mounted folder"
    prom = yaml.safe_load(host_config.read_text(encoding="utf-8"))
    for pattern in prom.get("rule_files") or []:
        # A glob may match nothing yet; it must only point inside the mount.
        prometheus_host_path(pattern, config_dir, mount)
    sd_files = [
        path
        for job in prom["scrape_configs"]
        for sd in job.get("file_sd_configs") or []
        for path in sd["files"]
    ]
    assert sd_files, "prometheus.yml has no file_sd_configs for the bus's processes"
    for path in sd_files:
        host = prometheus_host_path(path, config_dir, mount)
        assert list(host.parent.glob(host.name)), f"file_sd file {path} is not in {host.parent}"


def test_every_compose_scrape_target_is_a_service_serving_metrics_on_that_port(services):
    targets_file = PROMETHEUS_DIR / "targets.compose.yml"
    groups = yaml.safe_load(targets_file.read_text(encoding="utf-8"))
    assert groups, f"{targets_file} lists no targets"
    bus = bus_services(services)
    for group in groups:
        component = (group.get("labels") or {}).get("component")
        for target in group["targets"]:
            host, port = target.rsplit(":", 1)
            assert host in services, f"target {target}: no compose service named {host!r}"
            if host not in bus:
                assert int(port) in listen_ports_of(services[host]), f"{host} lacks {port}"
                continue
            metrics = config_seen_by(bus[host]).section("metrics")
            configured = metrics["ports"].get(component or host)
            assert configured == int(port), (
                f"target {target}: {host} serves /metrics on port {configured} "
                f"(metrics.ports.{component or host})"
            )
            assert metrics["host"] not in LOOPBACK, (
                f"{host} binds /metrics to {metrics['host']}: set OPDBUS_METRICS__HOST=0.0.0.0"
            )
            assert int(port) in listen_ports_of(bus[host]), f"{host} should expose {port}"


def test_kafka_sets_every_replication_factor_and_min_isr_to_1(services, shipped):
    env = env_of(services["kafka"])
    local = server_properties(shipped.stack["kafka"], Path("/unused"))
    single_node = SINGLE_NODE_KAFKA_KEYS | {
        key for key in local if re.search(r"replication\.factor|min\.isr|min\.insync", key)
    }
    for key in sorted(single_node):
        var = "KAFKA_" + key.upper().replace(".", "_")
        assert env.get(var) == "1", f"kafka: {var} (= {key}) must be 1, got {env.get(var)!r}"
    for var, value in env.items():
        if re.search(r"REPLICATION_FACTOR|MIN_ISR|MIN_INSYNC", var):
            assert value == "1", f"kafka: {var} must be 1 on a single node, got {value!r}"


def test_kafka_other_broker_settings_match_the_local_stack(services, shipped):
    env = env_of(services["kafka"])
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    local = server_properties(shipped.stack["kafka"], Path("/unused"))
    for key in ("group.initial.rebalance.delay.ms", "auto.create.topics.enable", "num.partitions"):
        var = "KAFKA_" + key.upper().replace(".", "_")
        assert env.get(var) == local[key], f"kafka: {var} is {env.get(var)!r}, not {local[key]}"
    assert any(kind == "volume" for kind, _, _ in mounts_of(services["kafka"])), "no volume"


def test_kafka_is_kafka_9092_inside_and_localhost_9092_from_the_host(services):
    env = env_of(services["kafka"])
    listeners = kafka_listeners(services["kafka"])
    advertised = kafka_listeners(services["kafka"], "KAFKA_ADVERTISED_LISTENERS")
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    names = {address: name for name, address in advertised.items()}
    for address in (("kafka", 9092), ("localhost", 9092)):
        assert address in names, f"kafka advertises {advertised}, not {address}"
        assert protocols[names[address]] == "PLAINTEXT", f"{address} is not PLAINTEXT"
    inside = listeners[names[("kafka", 9092)]][1]
    assert inside == 9092, f"kafka:9092 is advertised but that listener binds port {inside}"
    host_side = listeners[names[("localhost", 9092)]][1]
    published = {(ip, hp, cp) for ip, hp, cp in published_of(services["kafka"])}
    assert ("127.0.0.1", "9092", host_side) in published, (
        f"localhost:9092 must publish to the container's port {host_side}, got {published}"
    )


def test_published_ports_bind_to_localhost_only(services):
    for name, svc in services.items():
        for host_ip, host_port, container in published_of(svc):
            assert host_ip == "127.0.0.1", (
                f"{name} publishes {container} on {host_ip or 'every interface'}:{host_port}"
            )
            assert host_port, f"{name}: container port {container} gets a random host port"


def test_bus_processes_reach_the_stack_by_service_name(services):
    bus = bus_services(services)
    for name, svc in bus.items():
        config = config_seen_by(svc)
        kafka_host, kafka_port = config.bootstrap_servers.rsplit(":", 1)
        registry = urlsplit(config.registry_url)
        postgres = urlsplit(config.postgres_url())
        for what, host, port in (
            ("kafka", kafka_host, int(kafka_port)),
            ("registry", registry.hostname, registry.port),
            ("postgres", postgres.hostname, postgres.port),
        ):
            assert host == what, f"{name} reaches {what} at {host}, not at the service {what!r}"
            known = listen_ports_of(services[what])
            if what == "kafka":
                known |= {port for _, port in kafka_listeners(services["kafka"]).values()}
            assert port in known, f"{name} uses {what}:{port}; {what} listens on {known}"
        assert registry.path == "/apis/ccompat/v7", f"{name}: registry URL {config.registry_url}"


def test_postgres_has_logical_wal_wal2json_and_every_configured_database(services, shipped):
    svc = services["postgres"]
    command = " ".join(svc.get("command") or [])
    for setting in ("wal_level=logical", "max_replication_slots=", "max_wal_senders="):
        assert setting in command, f"postgres command lacks {setting}: {command}"
    build = build_of(svc)
    assert build and build[1].is_file(), "postgres must be built (postgres:15 plus wal2json)"
    runs = [line for line in dockerfile_lines(build[1]) if line.upper().startswith("RUN ")]
    assert any("install" in run and "postgresql-15-wal2json" in run for run in runs), (
        f"{build[1].name} does not install postgresql-15-wal2json"
    )
    assert any(base.startswith("postgres:15") for base in dockerfile_bases(build[1]))
    init_sql = (REPO_ROOT / "docker" / "postgres-init.sql").read_text(encoding="utf-8")
    for database in shipped.stack["postgres"]["databases"]:
        assert f"'{database}'" in init_sql, f"postgres-init.sql does not create {database}"
    assert "pg_isready" in str(svc["healthcheck"]["test"])
    registry_env = env_of(services["registry"])
    assert registry_env["APICURIO_DATASOURCE_URL"] == "jdbc:postgresql://postgres:5432/apicurio"
    assert registry_env["APICURIO_STORAGE_KIND"] == "sql"


def test_grafana_default_datasource_is_the_compose_prometheus(services):
    mounts = {target: source for kind, source, target in mounts_of(services["grafana"])}
    provisioning = REPO_ROOT / mounts["/etc/grafana/provisioning"]
    datasources = [
        source
        for path in sorted((provisioning / "datasources").glob("*.y*ml"))
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    ]
    defaults = [source for source in datasources if source.get("isDefault")]
    assert len(defaults) == 1, f"want exactly one default datasource, got {defaults}"
    url = urlsplit(defaults[0]["url"])
    assert (defaults[0]["type"], url.hostname) == ("prometheus", "prometheus"), (
        f"the default datasource must be the prometheus service, got {defaults[0]}"
    )
    assert url.port in listen_ports_of(services["prometheus"]), f"prometheus lacks {url.port}"


def test_dockerignore_keeps_venv_git_caches_build_output_and_secrets_out():
    patterns = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".venv", ".git", "**/__pycache__", "opdbus/stack/target", ".env"):
        assert needed in patterns, f".dockerignore lacks {needed}"
