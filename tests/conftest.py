"""Shared fixtures: one real Kafka broker and one real PostgreSQL for the whole run.

Addresses come from KAFKA_BOOTSTRAP_SERVERS / TEST_DATABASE_URL when set; otherwise from
testcontainers where a Docker engine answers; otherwise the project's own local services.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.services import kafka_bootstrap, postgres_url


@pytest.fixture(scope="session")
def kafka_bootstrap_servers() -> Iterator[str]:
    with kafka_bootstrap() as address:
        yield address


@pytest.fixture(scope="session")
def postgres_test_url() -> Iterator[str]:
    with postgres_url() as url:
        yield url


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A short name unique to this test, for topics, groups and schemas."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, unique_name: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for this test, as a database URL using it."""
    base = request.getfixturevalue("postgres_test_url")
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{unique_name}"'))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{unique_name}"
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{unique_name}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind the service supports: a SQLite file, a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))
