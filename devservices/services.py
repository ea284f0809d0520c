"""The services the command line manages, behind one small interface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devservices import kafka, postgres
from devservices.exports import KAFKA_BOOTSTRAP_SERVERS
from devservices.status import ServiceStatus


@dataclass(frozen=True)
class Service:
    """How to start, stop and inspect one service, and what the environment may say instead."""

    name: str
    start: Callable[[Path, float], Mapping[str, str]]
    stop: Callable[[Path], None]
    status: Callable[[Path], ServiceStatus]
    external: Callable[[], Mapping[str, str] | None]
    ready_timeout_s: float


def _start_kafka(state_dir: Path, timeout_s: float) -> Mapping[str, str]:
    return {KAFKA_BOOTSTRAP_SERVERS: kafka.ensure_running(state_dir, timeout_s)}


def _external_kafka() -> Mapping[str, str] | None:
    bootstrap = kafka.external_bootstrap()
    return None if bootstrap is None else {KAFKA_BOOTSTRAP_SERVERS: bootstrap}


def _start_postgres(state_dir: Path, timeout_s: float) -> Mapping[str, str]:
    return postgres.ensure_running(state_dir, timeout_s).variables()


SERVICES: Mapping[str, Service] = {
    "kafka": Service(
        "kafka",
        _start_kafka,
        kafka.stop,
        kafka.status,
        _external_kafka,
        kafka.READY_TIMEOUT_S,
    ),
    "postgres": Service(
        "postgres",
        _start_postgres,
        postgres.stop,
        postgres.status,
        postgres.external_variables,
        postgres.READY_TIMEOUT_S,
    ),
}


def select(choice: str) -> list[Service]:
    """The services named by a command-line choice (``all`` means every one)."""
    return list(SERVICES.values()) if choice == "all" else [SERVICES[choice]]
