"""Locating the real Kafka broker and PostgreSQL server the integration tests run against."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

log = logging.getLogger(__name__)


def docker_available() -> bool:
    """True when a Docker engine answers (not merely when the client is installed)."""
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def kafka_bootstrap() -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    from devservices import kafka
    from devservices.state import default_state_dir

    yield kafka.ensure_running(default_state_dir())


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    given = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if given and given.startswith("postgresql"):
        yield given
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver="psycopg") as container:
            yield container.get_connection_url()
        return
    from devservices import postgres
    from devservices.state import default_state_dir

    yield postgres.ensure_running(default_state_dir()).test_url
