"""Apache Kafka 4.x, one node in KRaft mode, run from the Maven Central jars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from opdbus.config import Config
from opdbus.stack.distribution import find_java
from opdbus.stack.layout import Layout
from opdbus.stack.process import (
    ManagedProcess,
    StackError,
    require_free_port,
    run,
    tcp_accepts,
    wait_until,
)

LOG4J2 = """<Configuration status="WARN">
  <Appenders>
    <RollingFile name="file" fileName="{log}" filePattern="{log}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="50MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""


def server_properties(conf: dict[str, Any], log_dir: Path) -> dict[str, str]:
    host, port, cport = conf["host"], conf["port"], conf["controller_port"]
    props = {
        "process.roles": "broker,controller",
        "node.id": conf["node_id"],
        "controller.quorum.bootstrap.servers": f"{host}:{cport}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": log_dir,
        "num.partitions": conf["num_partitions"],
        # One node: every replicated internal topic must accept a single replica.
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        "auto.create.topics.enable": "false",  # topics are declared, never made by a typo
    }
    return {key: str(value) for key, value in props.items()}


class Kafka:
    name = "kafka"

    def __init__(self, config: Config, layout: Layout, libs: Path | None) -> None:
        self.conf: dict[str, Any] = config.stack["kafka"]
        self.layout = layout
        self.libs = libs
        self.data_dir = layout.data("kafka")
        self.props_file = layout.conf("kafka-server.properties")
        self.process = ManagedProcess("kafka", layout.run, marker=str(self.props_file))

    @property
    def endpoint(self) -> str:
        return f"{self.conf['host']}:{self.conf['port']}"

    def alive(self) -> bool:
        return self.process.alive()

    def pid(self) -> int | None:
        return self.process.pid()

    def ready(self) -> bool:
        if not tcp_accepts(self.conf["host"], self.conf["port"]):
            return False
        # log_level 0: a broker still starting is expected here, not worth librdkafka's noise.
        admin = AdminClient({"bootstrap.servers": self.endpoint, "log_level": 0})
        try:
            admin.list_topics(timeout=2)
        except Exception:
            return False
        return True

    def _java_argv(self, main: str, *args: str) -> list[str]:
        if self.libs is None:
            raise StackError("Kafka jars are not downloaded")
        log4j = self.layout.conf("kafka-log4j2.xml")
        return [
            find_java(17),
            f"-Xmx{self.conf['heap']}",
            f"-Xms{self.conf['heap']}",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{self.libs / 'kafka-libs'}/*",
            main,
            *args,
        ]

    def up(self, timeout_s: float) -> str:
        if self.alive():
            return "already running"
        for key in ("port", "controller_port"):
            require_free_port(
                "Kafka", self.conf["host"], self.conf[key], f"OPDBUS_STACK__KAFKA__{key.upper()}"
            )
        props_file = self.props_file
        props = server_properties(self.conf, self.data_dir)
        props_file.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        log = self.layout.log("kafka")
        self.layout.conf("kafka-log4j2.xml").write_text(LOG4J2.format(log=log))
        if not (self.data_dir / "meta.properties").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            cluster_id = (
                run(
                    self._java_argv("kafka.tools.StorageTool", "random-uuid"),
                    what="Kafka random-uuid",
                )
                .strip()
                .splitlines()[-1]
            )
            run(
                self._java_argv(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(props_file),
                    "--standalone",
                ),
                what="Kafka storage format",
            )
        proc = self.process.start(
            self._java_argv("kafka.Kafka", str(props_file)), log.with_suffix(".out")
        )
        wait_until("Kafka", self.ready, timeout_s, lambda: proc.poll() is None, log)
        return "started"

    def down(self) -> bool:
        return self.process.stop(timeout_s=60)  # a clean shutdown avoids log recovery next start
