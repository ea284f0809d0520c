"""The writes the store makes while applying a batch: one bulk statement per table."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Column, Connection, case
from sqlalchemy.sql.elements import ColumnElement

from projections.db.backends import RowSink, backend_of
from projections.db.rows import state_row
from projections.db.tables import audit_log, consumer_positions, credentials
from projections.model.credential import CredentialState

AUDIT_COLUMNS = tuple(column.name for column in audit_log.columns if column.name != "position")
"""The columns of an audit row as the store writes it (the database assigns ``position``)."""


@contextmanager
def audit_appender(connection: Connection) -> Iterator[RowSink]:
    """A sink appending audit rows (with every column of :data:`AUDIT_COLUMNS`) in order.

    On PostgreSQL the rows stream through one COPY while the caller builds the next ones
    (the append-only table's bulk path, its index updates overlapping the caller's work);
    elsewhere they are inserted together when the block ends.
    """
    with backend_of(connection).appender(connection, audit_log, AUDIT_COLUMNS) as append:
        yield append


def upsert_states(connection: Connection, states: Collection[CredentialState]) -> None:
    """Insert or replace the credentials rows of ``states`` (one state per credential)."""
    if states:
        backend_of(connection).upsert(connection, credentials, [state_row(s) for s in states])


def upsert_positions(
    connection: Connection, next_offsets: Mapping[tuple[str, int], int], updated_at: datetime
) -> None:
    """Store the next offset to read per partition. A position never moves backwards."""
    if not next_offsets:
        return
    insert = backend_of(connection).insert(consumer_positions)
    stored: Column[int] = consumer_positions.c.next_offset
    given: ColumnElement[int] = insert.excluded.next_offset
    statement = insert.on_conflict_do_update(
        index_elements=[consumer_positions.c.topic, consumer_positions.c.partition],
        set_={
            "next_offset": case((given > stored, given), else_=stored),
            "updated_at": insert.excluded.updated_at,
        },
    )
    rows = [
        {"topic": topic, "partition": partition, "next_offset": offset, "updated_at": updated_at}
        for (topic, partition), offset in sorted(next_offsets.items())
    ]
    connection.execute(statement, rows)
