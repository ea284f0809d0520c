"""The on-disk shape of the local broker: its directories and its ``server.properties``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from devservices.ports import LOOPBACK

NODE_ID: Final = 1
JVM_HEAP_OPTS: Final = ("-Xmx512m", "-Xms256m")
PLAINTEXT: Final = "plaintext"
CONTROLLER: Final = "controller"

BROKER_SETTINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
)
"""Settings shared by the local broker and the ``kafka`` service of docker-compose.yml."""


@dataclass(frozen=True)
class KafkaLayout:
    """Paths of one local broker under ``<state>/kafka``."""

    root: Path

    @classmethod
    def under(cls, state_dir: Path) -> KafkaLayout:
        return cls(state_dir / "kafka")

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def properties(self) -> Path:
        return self.config / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.config / "log4j2.yaml"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    @property
    def console_log(self) -> Path:
        return self.logs / "kafka.out"

    @property
    def pid_file(self) -> Path:
        return self.root / "kafka.pid"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def maven_dir(self) -> Path:
        return self.root / "maven"

    @property
    def formatted(self) -> bool:
        return (self.data / "meta.properties").is_file()


def bootstrap_address(ports: Mapping[str, int]) -> str:
    """``host:port`` clients connect to."""
    return f"{LOOPBACK}:{ports[PLAINTEXT]}"


def server_properties(layout: KafkaLayout, ports: Mapping[str, int]) -> dict[str, str]:
    """Every broker setting: the shared ones plus listeners, quorum and log directory."""
    plaintext = f"{LOOPBACK}:{ports[PLAINTEXT]}"
    controller = f"{LOOPBACK}:{ports[CONTROLLER]}"
    return {
        **BROKER_SETTINGS,
        "listeners": f"PLAINTEXT://{plaintext},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{plaintext}",
        "controller.quorum.voters": f"{NODE_ID}@{controller}",
        "log.dirs": str(layout.data),
    }


def render_properties(settings: Mapping[str, str]) -> str:
    """Java ``.properties`` text for ``settings``."""
    return "".join(f"{key}={_escape(value)}\n" for key, value in settings.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\")
