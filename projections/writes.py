"""The writes the store makes while applying a batch: one bulk statement per table."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Table, case, column, select, table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from projections.copy_rows import RowSink, copy_rows, copy_stream
from projections.rows import state_row
from projections.state import CredentialState
from projections.tables import audit_log, consumer_positions, credentials


class UnsupportedDatabaseError(RuntimeError):
    """The projection store runs on SQLite and PostgreSQL only."""


AUDIT_COLUMNS = tuple(column.name for column in audit_log.columns if column.name != "position")
"""The columns of an audit row as the store writes it (the database assigns ``position``)."""


@contextmanager
def audit_appender(connection: Connection) -> Iterator[RowSink]:
    """A sink appending audit rows (with every column of :data:`AUDIT_COLUMNS`) in order.

    On PostgreSQL the rows stream through one COPY while the caller builds the next ones
    (the append-only table's bulk path, its index updates overlapping the caller's work);
    elsewhere they are inserted together when the block ends.
    """
    if connection.dialect.name == "postgresql":
        with copy_stream(connection, audit_log, AUDIT_COLUMNS) as send:
            yield send
        return
    rows: list[Mapping[str, Any]] = []
    yield rows.append
    if rows:
        connection.execute(audit_log.insert(), rows)


def upsert_states(connection: Connection, states: Collection[CredentialState]) -> None:
    """Insert or replace the credentials rows of ``states`` (one state per credential)."""
    if not states:
        return
    if connection.dialect.name == "postgresql":
        _upsert_states_by_copy(connection, [state_row(state) for state in states])
        return
    insert = _insert(connection, credentials)
    replaced = {
        column.name: insert.excluded[column.name]
        for column in credentials.columns
        if not column.primary_key
    }
    statement = insert.on_conflict_do_update(
        index_elements=[credentials.c.credential_id], set_=replaced
    )
    connection.execute(statement, [state_row(state) for state in states])


STAGING = "credentials_incoming"
"""Session-local staging table of the PostgreSQL state upsert (emptied at every commit)."""


def _upsert_states_by_copy(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """COPY the new states into a temporary table, then upsert them in one statement."""
    connection.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} (LIKE credentials) "
            "ON COMMIT DELETE ROWS"
        )
    )
    copy_rows(connection, credentials, rows, into=STAGING)
    names = [column.name for column in credentials.columns]
    staging = table(STAGING, *(column(name) for name in names))
    insert = postgresql.insert(credentials).from_select(names, select(*staging.c))
    replaced = {name: insert.excluded[name] for name in names if name != "credential_id"}
    connection.execute(
        insert.on_conflict_do_update(index_elements=[credentials.c.credential_id], set_=replaced)
    )


def upsert_positions(
    connection: Connection, next_offsets: Mapping[tuple[str, int], int], updated_at: datetime
) -> None:
    """Store the next offset to read per partition. A position never moves backwards."""
    if not next_offsets:
        return
    insert = _insert(connection, consumer_positions)
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


def _insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise UnsupportedDatabaseError(f"no upsert for the {dialect} database")
