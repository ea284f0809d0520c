"""Seeding a projection database without Kafka, as the projector would have written it.

The events are placed the way a topic's partitions would hold them (each credential's events
in one partition, in publication order, at offsets 0, 1, 2, ... there) and written with
:meth:`ProjectionStore.apply`, which is what the projector does with what it polls. On one
partition this is exactly the projection of the events published to a one-partition topic:
audit positions follow publication order.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable
from typing import Any

import pytest
import sqlalchemy as sa

from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.tables import metadata
from projections.model.positioned import PositionedEvent
from projections.write.store import ApplyResult, ProjectionStore
from schemas.models import LifecycleEvent
from tests.builders_projection import Partition

DATABASE_KINDS: list[Any] = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""Parameters of a fixture that gives a database of each kind; the PostgreSQL one is marked
``postgres`` because such fixtures reach the server through ``request.getfixturevalue``,
which the automatic markers of ``tests/conftest.py`` cannot see."""

UNCOMPARED = frozenset({("audit_log", "projected_at"), ("consumer_positions", "updated_at")})
"""(table, column) holding when a row was written, which differ between two projections."""


def topic_name(suffix: str) -> str:
    """A topic name unique to one test or module (the topic need not exist)."""
    return f"t{uuid.uuid4().hex[:10]}.{suffix}"


def partition_of(credential_id: str, partitions: int) -> int:
    """The partition of a credential's events: one per key, like Kafka's key partitioner.

    (Not Kafka's murmur2 numbers; no test depends on which partition a key lands in.)
    """
    return zlib.crc32(credential_id.encode()) % partitions


def place(
    events: Iterable[LifecycleEvent], topic: str, partitions: int = 1
) -> tuple[list[PositionedEvent], dict[tuple[str, int], int]]:
    """The events at the positions the topic would give them, and the next offsets after."""
    lanes = [Partition(number, topic=topic) for number in range(partitions)]
    placed: list[PositionedEvent] = []
    for event in events:
        placed.extend(lanes[partition_of(event.credential_id, partitions)].place([event]))
    offsets: dict[tuple[str, int], int] = {}
    for lane in lanes:
        if lane.next_offset:
            offsets.update(lane.offsets())
    return placed, offsets


def seed(
    database_url: str, events: Iterable[LifecycleEvent], *, topic: str, partitions: int = 1
) -> ApplyResult:
    """Migrate the database and apply ``events`` as read from ``topic``, in one batch."""
    upgrade(database_url)
    placed, offsets = place(events, topic, partitions)
    engine = create_engine_for(database_url)
    try:
        return ProjectionStore(engine).apply(placed, offsets)
    finally:
        engine.dispose()


def contents(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every projection table in key order, without the write timestamps."""
    engine = create_engine_for(database_url)
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                query = sa.select(table).order_by(*table.primary_key.columns)
                found[table.name] = [
                    {
                        key: value
                        for key, value in row._mapping.items()
                        if (table.name, key) not in UNCOMPARED
                    }
                    for row in connection.execute(query)
                ]
    finally:
        engine.dispose()
    return found
