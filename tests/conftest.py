"""Shared fixtures: one real Kafka broker and one real PostgreSQL for the whole run.

Addresses come from KAFKA_BOOTSTRAP_SERVERS / TEST_DATABASE_URL when set; otherwise from
testcontainers where a Docker engine answers; otherwise the project's own local services.
Neither is started unless a collected test needs it.

Every test that needs the broker is marked ``kafka`` and every test that needs PostgreSQL
``postgres``, automatically (see :func:`pytest_collection_modifyitems`), so that
``pytest -m "not kafka and not postgres and not drill"`` runs all the tests that need no
server, SQLite ones included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from tests.seeding import DATABASE_KINDS
from tests.services import (
    RoleUrls,
    fresh_schema,
    kafka_bootstrap,
    postgres_roles,
    postgres_url,
    secure_broker,
)

if TYPE_CHECKING:
    from devservices.kafka_secure import SecureKafka

SERVICES = {
    "kafka": (("kafka_bootstrap_servers", "secure_kafka"), "devservices.kafka"),
    "postgres": (("postgres_test_url", "postgres_role_urls"), "devservices.postgres"),
}
"""Marker -> the session fixtures giving that server, and the module that starts it locally."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with the servers it needs: ``kafka``, ``postgres``.

    A test needs a server when the fixture giving it is in the test's fixture closure, or
    when the test starts the project's local one itself (``devservices.kafka`` and
    ``devservices.postgres``, as tests/integration/test_devservices.py does). A fixture
    that reaches a server only through ``request.getfixturevalue`` for some of its
    parameters marks those parameters itself (``tests.seeding.DATABASE_KINDS``).
    """
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        for marker, (given_by, module) in SERVICES.items():
            if fixtures.intersection(given_by) or _refers_to(item, module):
                item.add_marker(marker)


def _refers_to(item: pytest.Item, module_name: str) -> bool:
    """Whether the test function names the module ``module_name`` (imported as a global)."""
    function = getattr(item, "function", None)
    code = getattr(function, "__code__", None)
    if function is None or code is None:
        return False
    names = function.__globals__
    return any(
        isinstance(names.get(name), ModuleType) and names[name].__name__ == module_name
        for name in code.co_names
    )


@pytest.fixture(scope="session")
def kafka_bootstrap_servers() -> Iterator[str]:
    with kafka_bootstrap() as address:
        yield address


@pytest.fixture(scope="session")
def postgres_test_url() -> Iterator[str]:
    with postgres_url() as url:
        yield url


@pytest.fixture(scope="session")
def secure_kafka() -> Iterator[SecureKafka]:
    """One broker with SASL/SCRAM and ACLs for the whole run (see tests.services)."""
    with secure_broker() as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres_role_urls() -> Iterator[RoleUrls]:
    with postgres_roles() as urls:
        yield urls


@pytest.fixture
def role_schema(postgres_role_urls: RoleUrls, unique_name: str) -> Iterator[RoleUrls]:
    """A fresh PostgreSQL schema, migrated by its owner (migration 0006 grants the roles
    their privileges in it), as each role's URL."""
    from projections.db.migrate import upgrade

    engine = sa.create_engine(postgres_role_urls.owner)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{unique_name}"'))
    urls = postgres_role_urls.in_schema(unique_name)
    upgrade(urls.owner)
    yield urls
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{unique_name}" CASCADE'))
    engine.dispose()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A short name unique to this test, for topics, groups and schemas."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture
def pg_url(postgres_test_url: str, unique_name: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for this test, as a database URL using it."""
    with fresh_schema(postgres_test_url, unique_name) as url:
        yield url


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind the service supports: a SQLite file, a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))
