"""Locating the real Kafka broker and PostgreSQL server the integration tests run against."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from devservices.kafka_secure import SecureKafka

log = logging.getLogger(__name__)


@contextlib.contextmanager
def fresh_schema(base: str, name: str | None = None) -> Iterator[str]:
    """An empty PostgreSQL schema (``name``, or a new one), dropped afterwards, as a URL of
    the server at ``base`` that uses it."""
    name = name or f"t{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{name}"
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        engine.dispose()


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


@dataclass(frozen=True)
class RoleUrls:
    """One test database as its owner, as the read-only role and as the access-log writer."""

    owner: str
    reader: str
    access_writer: str

    def in_schema(self, schema: str) -> RoleUrls:
        suffix = f"options=-csearch_path%3D{schema}"
        return RoleUrls(*(f"{url}{'&' if '?' in url else '?'}{suffix}"
                          for url in (self.owner, self.reader, self.access_writer)))


@contextlib.contextmanager
def postgres_roles() -> Iterator[RoleUrls]:
    """The test database with the roles ``devservices`` provisions.

    Given by TEST_DATABASE_URL, TEST_READER_DATABASE_URL and TEST_ACCESS_LOG_DATABASE_URL
    (``scripts/test`` exports all three); otherwise the project's own local PostgreSQL is
    started (and stopped again if it was not running), since a server provisioned elsewhere
    may lack the roles.
    """
    owner = os.environ.get("TEST_DATABASE_URL")
    reader = os.environ.get("TEST_READER_DATABASE_URL")
    writer = os.environ.get("TEST_ACCESS_LOG_DATABASE_URL")
    if owner and reader and writer:
        yield RoleUrls(owner, reader, writer)
        return
    from devservices import postgres
    from devservices.state import default_state_dir

    state = default_state_dir()
    was_running = postgres.status(state).running
    urls = postgres.ensure_running(state)
    try:
        yield RoleUrls(urls.test_url, urls.test_reader_url, urls.test_access_log_url)
    finally:
        if not was_running:
            postgres.stop(state)


@contextlib.contextmanager
def secure_broker() -> Iterator[SecureKafka]:
    """The broker with SASL/SCRAM and ACLs: the one the environment names
    (KAFKA_SECURE_BOOTSTRAP_SERVERS and the KAFKA_SECURE_*_PASSWORD variables), else the
    project's ``kafka-secure`` service, started for the run and stopped after it (unless it
    was running before)."""
    from devservices import kafka_secure
    from devservices.state import default_state_dir

    given = kafka_secure.external()
    if given is not None:
        yield given
        return
    state = default_state_dir()
    was_running = kafka_secure.status(state).running
    broker = kafka_secure.ensure_running(state)
    try:
        yield broker
    finally:
        if not was_running:
            kafka_secure.stop(state)
