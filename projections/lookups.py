"""The reads the store makes while applying a batch; each is one query per chunk of keys."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TypeVar

from sqlalchemy import ARRAY, Connection, Text, any_, bindparam, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from projections.batch import SequenceKey
from projections.rows import event_from_payload, state_from_row
from projections.state import CredentialState
from projections.tables import audit_log, consumer_positions, credentials
from schemas.models import LifecycleEvent

CHUNK = 5_000
"""Keys per IN list: well under the bound-parameter limits of SQLite and PostgreSQL."""

_Key = TypeVar("_Key")


def chunks(keys: Collection[_Key], size: int = CHUNK) -> Iterator[list[_Key]]:
    ordered = list(keys)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def one_of(
    connection: Connection, column: ColumnElement[str], values: list[str]
) -> ColumnElement[bool]:
    """``column`` is one of ``values``: ``= ANY(array)`` on PostgreSQL, else ``IN (...)``.

    The array is one bound parameter, so the statement's text does not depend on how many
    values there are and both SQLAlchemy and the driver reuse it from their caches.
    """
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(Text), unique=True))
    return column.in_(values)


def recorded_event_ids(connection: Connection, event_ids: Collection[str]) -> set[str]:
    """Which of ``event_ids`` the audit log already holds."""
    found: set[str] = set()
    for chunk in chunks(event_ids):
        query = select(audit_log.c.event_id).where(one_of(connection, audit_log.c.event_id, chunk))
        found.update(connection.scalars(query))
    return found


def credential_states(
    connection: Connection, credential_ids: Collection[str], *, lock: bool = False
) -> dict[str, CredentialState]:
    """The stored states of the given credentials (absent ones are left out).

    ``lock`` takes row locks (PostgreSQL ``FOR UPDATE``, in id order) until the transaction
    ends; SQLite's write transaction already excludes other writers.
    """
    states: dict[str, CredentialState] = {}
    for chunk in chunks(sorted(credential_ids)):
        query = (
            select(credentials)
            .where(one_of(connection, credentials.c.credential_id, chunk))
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


def histories(
    connection: Connection, credential_ids: Collection[str]
) -> dict[str, list[LifecycleEvent]]:
    """Every recorded event of the given credentials, in sequence then audit-log order."""
    found: dict[str, list[LifecycleEvent]] = {credential_id: [] for credential_id in credential_ids}
    for chunk in chunks(credential_ids):
        query = (
            select(audit_log.c.credential_id, audit_log.c.event_type, audit_log.c.payload)
            .where(one_of(connection, audit_log.c.credential_id, chunk))
            .order_by(audit_log.c.credential_id, audit_log.c.sequence, audit_log.c.position)
        )
        for credential_id, event_type, payload in connection.execute(query):
            found[credential_id].append(event_from_payload(event_type, payload))
    return found


def next_offsets(connection: Connection, topic: str) -> dict[int, int]:
    """Partition -> next offset to read, for every partition of ``topic`` with a position."""
    query = select(consumer_positions.c.partition, consumer_positions.c.next_offset).where(
        consumer_positions.c.topic == topic
    )
    return {partition: offset for partition, offset in connection.execute(query)}
