"""Session fixtures of the drills: their own broker and PostgreSQL, and the cached stream.

The services live in a state directory of their own (see ``tests.drills.services``) on
stable ports, are started once per session and stopped at its end, and do not depend on
``KAFKA_BOOTSTRAP_SERVERS`` or ``TEST_DATABASE_URL``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from devservices import kafka, postgres
from tests.drills.services import (
    DRILL_PREFIX,
    DrillKafka,
    DrillPostgres,
    drill_state_dir,
    exclusive_state_dir,
)
from tests.drills.stream import DrillStream, configured_events, configured_seed, drill_stream
from tests.integration.projector_support import Topics, make_topics

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def stream_builder(drill_seed: int) -> Iterator[Future[DrillStream]]:
    """The stream, being built in a thread while the services start."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-stream") as pool:
        yield pool.submit(drill_stream, configured_events(), drill_seed)


@pytest.fixture(scope="session")
def drill_services_dir(stream_builder: Future[DrillStream]) -> Iterator[Path]:
    """This session's drill state directory, held for the whole session.

    It asks for ``stream_builder`` only so that building the stream overlaps the start of
    the services.
    """
    with exclusive_state_dir(drill_state_dir()) as state_dir:
        yield state_dir


@pytest.fixture(scope="session")
def drill_kafka(drill_services_dir: Path) -> Iterator[DrillKafka]:
    bootstrap = kafka.ensure_running(drill_services_dir)
    log.info("drill broker at %s (state %s)", bootstrap, drill_services_dir)
    broker = DrillKafka(drill_services_dir, bootstrap)
    stale = broker.delete_topics(DRILL_PREFIX)
    if stale:
        log.info("deleted %d topics an earlier session left behind", len(stale))
    yield broker
    kafka.stop(drill_services_dir)


@pytest.fixture(scope="session")
def drill_postgres(drill_services_dir: Path) -> Iterator[DrillPostgres]:
    urls = postgres.ensure_running(drill_services_dir)
    server = DrillPostgres(drill_services_dir, urls.test_url)
    stale = server.drop_schemas(DRILL_PREFIX)
    if stale:
        log.info("dropped %d schemas an earlier session left behind", len(stale))
    yield server
    postgres.stop(drill_services_dir)


@pytest.fixture(scope="session")
def drill_seed() -> int:
    return configured_seed()


@pytest.fixture(scope="session")
def stream(stream_builder: Future[DrillStream]) -> DrillStream:
    """The simulated stream every drill publishes (built once per session)."""
    return stream_builder.result(timeout=300)


@pytest.fixture
def drill_name() -> str:
    """A short name unique to this drill, for topics, the group and the schema."""
    return f"{DRILL_PREFIX}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topics(drill_kafka: DrillKafka, drill_name: str) -> Iterator[Topics]:
    """This drill's lifecycle and dead-letter topics, deleted afterwards (they are large)."""
    yield make_topics(drill_kafka.bootstrap, drill_name)
    drill_kafka.delete_topics(drill_name)


@pytest.fixture
def drill_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'projection.db'}"


@pytest.fixture
def drill_pg_url(drill_postgres: DrillPostgres, drill_name: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for this drill, as a URL searching it."""
    _execute(drill_postgres.test_url, f'CREATE SCHEMA "{drill_name}"')
    yield f"{drill_postgres.test_url}?options=-csearch_path%3D{drill_name}"
    _execute(drill_postgres.test_url, f'DROP SCHEMA "{drill_name}" CASCADE')


def _execute(url: str, statement: str) -> None:
    """Run one statement on a connection of its own (the server may have restarted)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()
