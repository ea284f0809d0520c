"""The services the command line manages, behind one small interface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devservices import kafka, kafka_secure, postgres
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
    optional: bool = False
    """Not part of ``all`` when starting (a second broker only for those who ask); ``stop
    all`` stops it, ``status all`` and ``env all`` show it while it runs."""


def _start_kafka(state_dir: Path, timeout_s: float) -> Mapping[str, str]:
    return {KAFKA_BOOTSTRAP_SERVERS: kafka.ensure_running(state_dir, timeout_s)}


def _external_kafka() -> Mapping[str, str] | None:
    bootstrap = kafka.external_bootstrap()
    return None if bootstrap is None else {KAFKA_BOOTSTRAP_SERVERS: bootstrap}


def _start_postgres(state_dir: Path, timeout_s: float) -> Mapping[str, str]:
    return postgres.ensure_running(state_dir, timeout_s).variables()


def _start_kafka_secure(state_dir: Path, timeout_s: float) -> Mapping[str, str]:
    return kafka_secure.ensure_running(state_dir, timeout_s).variables()


def _external_kafka_secure() -> Mapping[str, str] | None:
    given = kafka_secure.external()
    return None if given is None else given.variables()


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
    "kafka-secure": Service(
        "kafka-secure",
        _start_kafka_secure,
        kafka_secure.stop,
        kafka_secure.status,
        _external_kafka_secure,
        kafka_secure.READY_TIMEOUT_S,
        optional=True,
    ),
}


def select(choice: str, state_dir: Path | None = None, *, every: bool = False) -> list[Service]:
    """The services named by a command-line choice. ``all`` means the default ones, plus the
    optional ones that run in ``state_dir`` (``every``: all of them, to stop)."""
    if choice != "all":
        return [SERVICES[choice]]
    return [
        service for service in SERVICES.values()
        if not service.optional or every
        or (state_dir is not None and service.status(state_dir).running)
    ]
