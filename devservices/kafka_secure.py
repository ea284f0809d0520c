"""A second local broker that refuses strangers: SASL/SCRAM-SHA-512 on its only client
listener, ACLs for the producer and projector principals (:mod:`devservices.kafka_acls`).

Its SCRAM users (``admin``, ``producer``, ``projector``) get random passwords on the first
start, kept in ``<state>/kafka-secure/credentials.json`` (mode 0600) and created when the
storage is formatted; the default topics and their ACLs are created on every start.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devservices.errors import DevServiceError
from devservices.exports import KAFKA_SECURE_BOOTSTRAP_SERVERS
from devservices.kafka_acls import grant_access
from devservices.kafka_config import (
    ADMIN,
    CONTROLLER,
    PRINCIPALS,
    SASL_MECHANISM,
    SECURE_CLIENT,
    KafkaLayout,
    scram_format_options,
    secure_server_properties,
)
from devservices.kafka_probe import answers
from devservices.kafka_process import (
    STOP_TIMEOUT_S,
    launch,
    running_pid,
    stop_broker,
    wait_until_ready,
)
from devservices.ports import LOOPBACK, stable_ports
from devservices.state import clear_env, load_ports, locked, resolve_state_dir, write_env
from devservices.status import ServiceStatus

log = logging.getLogger(__name__)

SERVICE = "kafka-secure"
READY_TIMEOUT_S = 90.0


def password_variable(principal: str) -> str:
    """The export naming a principal's password: ``KAFKA_SECURE_PRODUCER_PASSWORD`` ..."""
    return f"KAFKA_SECURE_{principal.upper()}_PASSWORD"


@dataclass(frozen=True)
class SecureKafka:
    """Where the secure broker listens, and its principals' passwords."""

    bootstrap: str
    passwords: Mapping[str, str] = field(repr=False)

    def client_options(self, principal: str, password: str | None = None) -> dict[str, Any]:
        """kafka-python options connecting as ``principal`` (with another ``password``, to
        show it refused)."""
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SASL_MECHANISM,
            "sasl_plain_username": principal,
            "sasl_plain_password": self.passwords[principal] if password is None else password,
        }

    def variables(self) -> dict[str, str]:
        return {
            KAFKA_SECURE_BOOTSTRAP_SERVERS: self.bootstrap,
            **{password_variable(name): self.passwords[name] for name in PRINCIPALS},
        }


def external() -> SecureKafka | None:
    """The secure broker the environment names (its bootstrap and every password), if any."""
    bootstrap = os.environ.get(KAFKA_SECURE_BOOTSTRAP_SERVERS)
    passwords = {name: os.environ.get(password_variable(name)) for name in PRINCIPALS}
    if not bootstrap or not all(passwords.values()):
        return None
    return SecureKafka(bootstrap, {name: str(value) for name, value in passwords.items()})


def ensure_running(
    state_dir: Path | None = None, timeout_s: float = READY_TIMEOUT_S
) -> SecureKafka:
    """Reuse the secure broker of ``state_dir`` if it answers, else start it; then make sure
    the default topics and ACLs exist."""
    state_dir = resolve_state_dir(state_dir)
    layout = KafkaLayout.under(state_dir, SERVICE)
    with locked(layout.lock_file):
        passwords = _credentials(layout)
        pid = running_pid(layout)
        if pid is None:
            ports = stable_ports(layout.ports_file, (SECURE_CLIENT, CONTROLLER))
            broker = SecureKafka(f"{LOOPBACK}:{ports[SECURE_CLIENT]}", passwords)
            launch(
                layout, secure_server_properties(layout, ports, passwords[ADMIN]),
                broker.bootstrap, timeout_s, scram_format_options(passwords),
                broker.client_options(ADMIN),
            )
        else:
            broker = SecureKafka(_saved_address(layout), passwords)
            wait_until_ready(layout, pid, broker.bootstrap, timeout_s,
                             broker.client_options(ADMIN))
            log.info("kafka-secure reused pid=%d bootstrap=%s", pid, broker.bootstrap)
        grant_access(broker.bootstrap, broker.client_options(ADMIN))
        write_env(state_dir, SERVICE, broker.variables())
    return broker


def stop(state_dir: Path | None = None, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop the secure broker of ``state_dir``; its data and credentials are kept."""
    state_dir = resolve_state_dir(state_dir)
    layout = KafkaLayout.under(state_dir, SERVICE)
    with locked(layout.lock_file):
        stop_broker(layout, timeout_s)
        clear_env(state_dir, SERVICE)


def status(state_dir: Path | None = None) -> ServiceStatus:
    """The secure broker's pid, whether it answers the administrator, and its exports."""
    layout = KafkaLayout.under(resolve_state_dir(state_dir), SERVICE)
    pid = running_pid(layout)
    if pid is None:
        return ServiceStatus(SERVICE, layout.root)
    broker = SecureKafka(_saved_address(layout), _credentials(layout))
    return ServiceStatus(
        SERVICE, layout.root, pid=pid,
        answering=answers(broker.bootstrap, client_options=broker.client_options(ADMIN)),
        variables=broker.variables(),
    )


def _credentials(layout: KafkaLayout) -> dict[str, str]:
    """The principals' passwords: read, or generated (hex: StorageTool's ``--add-scram``
    cannot take ``,`` or ``"``) and saved with mode 0600 before the first format."""
    path = layout.credentials_file
    if path.is_file():
        saved = json.loads(path.read_text())
        if set(saved) != set(PRINCIPALS):
            raise DevServiceError(f"{path} does not hold the passwords of {PRINCIPALS}")
        return {str(name): str(value) for name, value in saved.items()}
    if layout.formatted:
        raise DevServiceError(
            f"{path} is gone but {layout.data} was formatted with its passwords; stop "
            f"kafka-secure and remove {layout.root} to start afresh"
        )
    passwords = {name: secrets.token_hex(24) for name in PRINCIPALS}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(passwords, out, indent=2)
    return passwords


def _saved_address(layout: KafkaLayout) -> str:
    ports = load_ports(layout.ports_file)
    if SECURE_CLIENT not in ports:
        raise DevServiceError(f"{layout.ports_file} is missing; stop kafka-secure and start again")
    return f"{LOOPBACK}:{ports[SECURE_CLIENT]}"
