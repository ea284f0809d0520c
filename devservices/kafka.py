"""A single-node KRaft Apache Kafka broker for development and tests: start, reuse, stop."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from devservices.errors import DevServiceError
from devservices.exports import KAFKA_BOOTSTRAP_SERVERS
from devservices.kafka_config import (
    BROKER_SETTINGS,
    CONTROLLER,
    JVM_HEAP_OPTS,
    PLAINTEXT,
    KafkaLayout,
    bootstrap_address,
    server_properties,
)
from devservices.kafka_probe import answers
from devservices.kafka_process import (
    STOP_TIMEOUT_S,
    launch,
    running_pid,
    stop_broker,
    wait_until_ready,
)
from devservices.ports import stable_ports
from devservices.state import clear_env, load_ports, locked, resolve_state_dir, write_env
from devservices.status import ServiceStatus

__all__ = ["BROKER_SETTINGS", "JVM_HEAP_OPTS", "ensure_running", "status", "stop"]

log = logging.getLogger(__name__)

SERVICE = "kafka"
READY_TIMEOUT_S = 90.0


def external_bootstrap() -> str | None:
    """``$KAFKA_BOOTSTRAP_SERVERS`` when the environment already names a broker."""
    return os.environ.get(KAFKA_BOOTSTRAP_SERVERS) or None


def ensure_running(state_dir: Path | None = None, timeout_s: float = READY_TIMEOUT_S) -> str:
    """Reuse the broker of ``state_dir`` if it answers, else start it; return its bootstrap."""
    state_dir = resolve_state_dir(state_dir)
    layout = KafkaLayout.under(state_dir)
    with locked(layout.lock_file):
        pid = running_pid(layout)
        if pid is None:
            ports = stable_ports(layout.ports_file, (PLAINTEXT, CONTROLLER))
            address = bootstrap_address(ports)
            launch(layout, server_properties(layout, ports), address, timeout_s)
        else:
            address = _saved_address(layout)
            wait_until_ready(layout, pid, address, timeout_s)
            log.info("kafka reused pid=%d bootstrap=%s", pid, address)
        write_env(state_dir, SERVICE, {KAFKA_BOOTSTRAP_SERVERS: address})
    return address


def stop(state_dir: Path | None = None, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop the broker of ``state_dir`` (SIGTERM, then SIGKILL after ``timeout_s``)."""
    state_dir = resolve_state_dir(state_dir)
    layout = KafkaLayout.under(state_dir)
    with locked(layout.lock_file):
        stop_broker(layout, timeout_s)
        clear_env(state_dir, SERVICE)


def status(state_dir: Path | None = None) -> ServiceStatus:
    """The broker's pid, whether it answers metadata requests, and its bootstrap address."""
    layout = KafkaLayout.under(resolve_state_dir(state_dir))
    pid = running_pid(layout)
    if pid is None:
        return ServiceStatus(SERVICE, layout.root)
    address = _saved_address(layout)
    return ServiceStatus(
        SERVICE,
        layout.root,
        pid=pid,
        answering=answers(address),
        variables={KAFKA_BOOTSTRAP_SERVERS: address},
    )


def _saved_address(layout: KafkaLayout) -> str:
    ports = load_ports(layout.ports_file)
    if PLAINTEXT not in ports:
        raise DevServiceError(f"{layout.ports_file} is missing; stop kafka and start it again")
    return bootstrap_address(ports)
