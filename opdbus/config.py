"""Configuration: config/opdbus.yaml, an optional overlay file, then environment variables.

Precedence (last wins): the shipped YAML, the file named by OPDBUS_CONFIG, then
OPDBUS_<SECTION>__<KEY>[__<KEY>...] variables. In the librdkafka sections an underscore in the
key stands for a dot, so OPDBUS_KAFKA__SASL_PASSWORD sets kafka["sasl.password"].
"""

from __future__ import annotations

import copy
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPO_ROOT / "config" / "opdbus.yaml"
ENV_PREFIX = "OPDBUS_"
LIBRDKAFKA_SECTIONS = ("kafka", "producer", "consumer")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the key."""


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def read_yaml(path: Path, what: str = "config file") -> dict[str, Any]:
    """A YAML mapping, or a ConfigError naming the file and what is wrong with it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping at the top level")
    return data


def _coerce(raw: str, like: Any) -> Any:
    """Give an environment string the type of the value it replaces."""
    if isinstance(like, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"expected true/false, got {raw!r}")
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, float):
        return float(raw)
    if isinstance(like, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        node: dict[str, Any] = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                path = ".".join(parts[: depth + 1])
                raise ConfigError(f"{name}: no config section {path!r}")
            node = child
        leaf = parts[-1]
        if parts[0] in LIBRDKAFKA_SECTIONS and len(parts) == 2:
            leaf = leaf.replace("_", ".")
        try:
            node[leaf] = _coerce(raw, node.get(leaf, ""))
        except (ConfigError, ValueError) as exc:
            raise ConfigError(f"{name}: {exc}") from exc


def load(environ: Mapping[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    data = read_yaml(DEFAULT_FILE)
    overlay = environ.get("OPDBUS_CONFIG")
    if overlay:
        deep_merge(data, read_yaml(Path(overlay)))
    _apply_env(data, environ)
    _processor_workers(data)
    _bus_nice(data)
    return Config(data, environ)


def _processor_workers(data: dict[str, Any]) -> None:
    """Check processors.workers; worker N (N >= 1) serves /metrics on metrics.ports.processor
    + N, under the name processor-N, so that the bus, Prometheus' targets and `opdbus status`
    all see it."""
    processors = data.get("processors", {})
    workers = int(processors.get("workers", 1))
    if not 1 <= workers <= int(processors.get("partitions", workers)):
        raise ConfigError(
            f"processors.workers must be 1 to processors.partitions "
            f"({processors.get('partitions')}), got {workers}: a worker needs a partition"
        )
    ports = data.get("metrics", {}).get("ports", {})
    if "processor" not in ports:
        return
    for worker in range(1, workers):
        ports.setdefault(f"processor-{worker}", processor_port(ports, worker))


BUS_KINDS = ("connector", "processor", "sink", "lag-collector")


def _bus_nice(data: dict[str, Any]) -> None:
    """Check bus.nice: a known kind of process each, 0-19 (a negative nice would need root)."""
    for kind, nice in data.get("bus", {}).get("nice", {}).items():
        if kind not in BUS_KINDS:
            raise ConfigError(
                f"bus.nice.{kind}: no such kind of bus process ({', '.join(BUS_KINDS)})"
            )
        if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
            raise ConfigError(f"bus.nice.{kind} must be a whole number 0-19, got {nice!r}")


def processor_port(ports: Mapping[str, Any], worker: int) -> int:
    """Processor worker N serves /metrics on metrics.ports.processor + N."""
    return int(ports["processor"]) + worker


@dataclass(frozen=True)
class Config:
    """The merged configuration plus the endpoints derived from it."""

    data: dict[str, Any]
    environ: Mapping[str, str]

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if not isinstance(value, dict):
            raise ConfigError(f"config section {name!r} is missing")
        return value

    @property
    def stack(self) -> dict[str, Any]:
        return self.section("stack")

    @cached_property
    def state_dir(self) -> Path:
        configured = self.stack.get("state_dir") or ""
        return Path(configured or f"/var/tmp/opdbus-{getpass.getuser()}").resolve()

    @cached_property
    def cache_dir(self) -> Path:
        """Downloads (the Java services' jars), shared by every state dir of this user."""
        configured = self.stack.get("cache_dir") or ""
        xdg = self.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(configured or Path(xdg) / "opdbus").resolve()

    @property
    def bootstrap_servers(self) -> str:
        configured = self.section("kafka").get("bootstrap.servers")
        kafka = self.stack["kafka"]
        return configured or f"{kafka['host']}:{kafka['port']}"

    @property
    def registry_url(self) -> str:
        configured = self.section("registry").get("url")
        registry = self.stack["registry"]
        return configured or f"http://{registry['host']}:{registry['port']}/apis/ccompat/v7"

    @property
    def prometheus_url(self) -> str:
        prometheus = self.stack["prometheus"]
        return f"http://{prometheus['host']}:{prometheus['port']}"

    def postgres_password(self) -> str | None:
        """From postgres.password (env), postgres.password_file, or the local stack's secret.
        None for an external server without one: libpq's PGPASSWORD or .pgpass then apply."""
        section = self.section("postgres")
        if section.get("password"):
            return str(section["password"])
        external = bool(section.get("url"))
        default_file = "" if external else self.state_dir / "secrets" / "postgres"
        password_file = section.get("password_file") or default_file
        if not password_file:
            return None
        try:
            return Path(password_file).read_text(encoding="utf-8").strip()
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no PostgreSQL password: set OPDBUS_POSTGRES__PASSWORD, postgres.password_file, "
                f"or run `opdbus stack up` to create {password_file}"
            ) from exc

    def postgres_url(self, database: str = "opdbus") -> str:
        """A libpq URL for database, password included (redact before printing)."""
        configured = self.section("postgres").get("url")
        pg = self.stack["postgres"]
        parts = urlsplit(configured or f"postgresql://{pg['superuser']}@{pg['host']}:{pg['port']}")
        password = self.postgres_password()
        netloc = parts.netloc
        if password and parts.password is None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user}:{quote(password, safe='')}@{host}"
        return parts._replace(netloc=netloc, path=f"/{database}").geturl()

    def librdkafka(self, role: str | None = None) -> dict[str, Any]:
        """Client properties, librdkafka names unchanged: the shared `kafka` section plus the
        role's section ('producer' or 'consumer'); no role for an admin client."""
        props = {k: v for k, v in self.section("kafka").items() if v != ""}
        if role:
            props.update(self.section(role))
        props["bootstrap.servers"] = self.bootstrap_servers
        return props

    def registry_client_conf(self) -> dict[str, Any]:
        registry = self.section("registry")
        conf: dict[str, Any] = {"url": self.registry_url, "timeout": registry["timeout_s"]}
        auth = registry.get("basic_auth_user_info")
        if auth:
            conf["basic.auth.user.info"] = auth
        return conf

    @property
    def topics(self) -> dict[str, dict[str, Any]]:
        return self.section("topics")
