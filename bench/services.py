"""Where the benchmarks find Kafka and PostgreSQL, and fresh databases for each run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


def bootstrap_servers() -> str:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        return given
    from devservices import kafka

    return kafka.ensure_running(None)


def postgres_base_url() -> str:
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        return given
    from devservices import postgres

    return postgres.ensure_running(None).test_url


def service_database() -> str:
    """The service database (DATABASE_URL when it is PostgreSQL): where the large logs of
    the bench are kept, each in a schema of its own, from one run to the next."""
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith("postgresql"):
        return given
    from devservices import postgres

    return postgres.ensure_running(None).service_url


@contextmanager
def fresh_postgres(base: str | None = None) -> Iterator[str]:
    """An empty PostgreSQL schema, dropped afterwards, as a URL that uses it."""
    base = base or postgres_base_url()
    name = f"bench_{uuid.uuid4().hex[:10]}"
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


@contextmanager
def fresh_sqlite(directory: Path) -> Iterator[str]:
    path = directory / f"bench-{uuid.uuid4().hex[:10]}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
