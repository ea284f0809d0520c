"""The reads the store makes while applying a batch; each is one query per chunk of keys."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, select, tuple_

from projections.db.backends import backend_of
from projections.db.chunks import chunks
from projections.db.rows import state_from_row
from projections.db.tables import audit_log, consumer_positions, credentials
from projections.model.batch import SequenceKey
from projections.model.credential import CredentialState


def recorded_event_ids(connection: Connection, event_ids: Collection[str]) -> set[str]:
    """Which of ``event_ids`` the audit log already holds."""
    backend = backend_of(connection)
    found: set[str] = set()
    for chunk in chunks(event_ids):
        query = select(audit_log.c.event_id).where(backend.one_of(audit_log.c.event_id, chunk))
        found.update(connection.scalars(query))
    return found


def recorded_events(
    connection: Connection, event_ids: Collection[str]
) -> dict[str, tuple[dict[str, Any], str]]:
    """The stored payload and Kafka position (``topic[partition]@offset``) of event ids."""
    backend = backend_of(connection)
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for chunk in chunks(event_ids):
        query = select(
            audit_log.c.event_id, audit_log.c.payload, audit_log.c.kafka_topic,
            audit_log.c.kafka_partition, audit_log.c.kafka_offset,
        ).where(backend.one_of(audit_log.c.event_id, chunk))
        for event_id, payload, topic, partition, offset in connection.execute(query):
            found[event_id] = (payload, f"{topic}[{partition}]@{offset}")
    return found


def credential_states(
    connection: Connection, credential_ids: Collection[str], *, lock: bool = False
) -> dict[str, CredentialState]:
    """The stored states of the given credentials (absent ones are left out).

    ``lock`` takes row locks (PostgreSQL ``FOR UPDATE``, in id order) until the transaction
    ends; SQLite's write transaction already excludes other writers.
    """
    backend = backend_of(connection)
    states: dict[str, CredentialState] = {}
    for chunk in chunks(sorted(credential_ids)):
        query = (
            select(credentials)
            .where(backend.one_of(credentials.c.credential_id, chunk))
            .order_by(credentials.c.credential_id)
        )
        if lock:
            query = query.with_for_update()
        for row in connection.execute(query):
            state = state_from_row(row._mapping)
            states[state.credential_id] = state
    return states


def taken_sequences(connection: Connection, keys: Collection[SequenceKey]) -> set[SequenceKey]:
    """Which (credential, sequence) pairs the audit log already holds an event for."""
    pair = tuple_(audit_log.c.credential_id, audit_log.c.sequence)
    found: set[SequenceKey] = set()
    for chunk in chunks(keys):
        query = select(audit_log.c.credential_id, audit_log.c.sequence).where(pair.in_(chunk))
        found.update(
            (credential_id, sequence) for credential_id, sequence in connection.execute(query)
        )
    return found


def next_offsets(connection: Connection, topic: str) -> dict[int, int]:
    """Partition -> next offset to read, for every partition of ``topic`` with a position."""
    query = select(consumer_positions.c.partition, consumer_positions.c.next_offset).where(
        consumer_positions.c.topic == topic
    )
    return {partition: offset for partition, offset in connection.execute(query)}
