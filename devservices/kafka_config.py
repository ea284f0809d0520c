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


SECURE_CLIENT: Final = "client"
"""The port name of the secure broker's SASL listener."""

SASL_MECHANISM: Final = "SCRAM-SHA-512"

ADMIN: Final = "admin"
PRINCIPALS: Final = (ADMIN, "producer", "projector")
"""The secure broker's SCRAM users: the super user, the lifecycle topic's only writer and its
only reader (see :mod:`devservices.kafka_acls`)."""

SECURE_BROKER_SETTINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "inter.broker.listener.name": "CLIENT",
        "listener.security.protocol.map": "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": SASL_MECHANISM,
        "listener.name.client.sasl.enabled.mechanisms": SASL_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SASL_MECHANISM,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }
)
"""What the secure broker (devservices ``kafka-secure``, docker-compose's ``kafka``) sets on
top of :data:`BROKER_SETTINGS`: one SASL_PLAINTEXT SCRAM-SHA-512 listener for clients and the
broker itself, ACLs with nothing allowed that no ACL allows. ``User:ANONYMOUS`` is the
principal of the PLAINTEXT controller listener inside the broker process (loopback only);
without it as super user the broker cannot register with its own controller."""


@dataclass(frozen=True)
class KafkaLayout:
    """Paths of one local broker under ``<state>/<name>``; the jars are shared under
    ``<state>/kafka``."""

    root: Path
    jars_home: Path

    @classmethod
    def under(cls, state_dir: Path, name: str = "kafka") -> KafkaLayout:
        return cls(state_dir / name, state_dir / "kafka")

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def libs(self) -> Path:
        return self.jars_home / "libs"

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
        return self.jars_home / "maven"

    @property
    def credentials_file(self) -> Path:
        """The SCRAM passwords of a secure broker (mode 0600)."""
        return self.root / "credentials.json"

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


def jaas_login(username: str, password: str) -> str:
    """A SCRAM ``sasl.jaas.config`` value (the broker's own login on its SASL listener)."""
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";'
    )


def secure_server_properties(
    layout: KafkaLayout, ports: Mapping[str, int], admin_password: str
) -> dict[str, str]:
    """Every setting of the secure broker: the shared ones, the SASL and ACL ones, its
    listeners, quorum and log directory."""
    client = f"{LOOPBACK}:{ports[SECURE_CLIENT]}"
    controller = f"{LOOPBACK}:{ports[CONTROLLER]}"
    return {
        **BROKER_SETTINGS,
        **SECURE_BROKER_SETTINGS,
        "listeners": f"CLIENT://{client},CONTROLLER://{controller}",
        "advertised.listeners": f"CLIENT://{client}",
        "controller.quorum.voters": f"{NODE_ID}@{controller}",
        "log.dirs": str(layout.data),
        "listener.name.client.scram-sha-512.sasl.jaas.config": jaas_login(ADMIN, admin_password),
    }


def scram_format_options(passwords: Mapping[str, str]) -> list[str]:
    """``StorageTool format`` options creating each SCRAM user (passwords must hold no ``,``
    nor ``"``: they are hex)."""
    return [
        option
        for name, password in passwords.items()
        for option in ("--add-scram", f"{SASL_MECHANISM}=[name={name},password={password}]")
    ]
