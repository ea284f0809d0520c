"""Helpers of the bulk replay tests: a stream with every kind of surprise, and the tables of
two projections side by side (what must be equal between a live projection and a bulk one)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from projections.db.engine import create_engine_for
from projections.db.tables import (
    audit_chain_heads,
    audit_log,
    bulk_loads,
    consumer_positions,
    credentials,
    merkle_logs,
    merkle_nodes,
)
from schemas.models import CredentialUsed, LifecycleEvent
from tests.builders_projection import History

Tables = dict[str, Any]


def surprising_events() -> tuple[list[LifecycleEvent], list[LifecycleEvent]]:
    """Events with gaps, late and duplicate sequences, events before creation, re-delivered
    event ids; and the events that reuse an id with other content (refused as conflicts)."""
    gapped, late, early = History("cred-gap"), History("cred-late"), History("cred-early")
    created = gapped.created()
    second_use = gapped.used("10.0.0.3", sequence=3)  # gap: 2 is missing so far
    filled = gapped.roles_scoped("admin", sequence=2)  # late, not taken: refolded
    taken = gapped.used("10.0.0.9", sequence=2)  # late, sequence taken: a duplicate
    events: list[LifecycleEvent] = [
        created, second_use, early.used("192.0.2.1"), late.created(), late.used("10.1.1.1"),
        filled, taken, created, second_use,  # re-deliveries: the same ids, the same content
        early.created(sequence=2), late.deleted(), late.used("10.1.1.2"),
    ]
    assert isinstance(second_use, CredentialUsed)
    conflicting = second_use.model_copy(update={"source_ip": "203.0.113.7"})
    moved = created.model_copy(
        update={"envelope": created.envelope.model_copy(
            update={"occurred_at": created.envelope.occurred_at + timedelta(seconds=1)}
        )}
    )
    return events, [conflicting, moved]


def tables(database_url: str) -> Tables:
    """Every row a projection wrote, keyed so that two projections of the same stream
    compare equal: audit rows by event id (without ``position`` and ``projected_at``),
    Merkle nodes by partition rather than log id, positions without ``updated_at``."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            logs = {
                row.log_id: (row.topic, row.partition)
                for row in connection.execute(sa.select(merkle_logs))
            }
            return {
                "audit_log": {
                    row.event_id: {
                        key: value for key, value in row._mapping.items()
                        if key not in ("position", "projected_at")
                    }
                    for row in connection.execute(sa.select(audit_log))
                },
                "credentials": {
                    row.credential_id: dict(row._mapping)
                    for row in connection.execute(sa.select(credentials))
                },
                "merkle_nodes": {
                    (*logs[row.log_id], row.level, row.idx): bytes(row.hash)
                    for row in connection.execute(sa.select(merkle_nodes))
                },
                "merkle_logs": sorted(logs.values()),
                "audit_chain_heads": sorted(
                    tuple(row) for row in connection.execute(sa.select(audit_chain_heads))
                ),
                "consumer_positions": sorted(
                    (row.topic, row.partition, row.next_offset)
                    for row in connection.execute(sa.select(consumer_positions))
                ),
                "bulk_loads": list(connection.execute(sa.select(bulk_loads))),
            }
    finally:
        engine.dispose()


def differing(live: Tables, bulk: Tables) -> dict[str, Any]:
    """Per table that differs: the keys only one side holds, or the first differing rows."""
    found: dict[str, Any] = {}
    for name, rows in live.items():
        other = bulk[name]
        if rows == other:
            continue
        if isinstance(rows, dict):
            changed = [key for key in rows.keys() & other.keys() if rows[key] != other[key]]
            found[name] = {
                "only live": sorted(map(str, rows.keys() - other.keys()))[:5],
                "only bulk": sorted(map(str, other.keys() - rows.keys()))[:5],
                "changed": [(key, rows[key], other[key]) for key in changed[:3]],
            }
        else:
            found[name] = (rows[:5], other[:5])
    return found


def index_definitions(database_url: str) -> dict[str, str]:
    """Name -> definition of every index in the database (for SQLite, its CREATE text;
    for PostgreSQL, ``pg_get_indexdef`` of the current schema's indexes)."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = sa.text("SELECT name, coalesce(sql, tbl_name) FROM sqlite_master "
                                "WHERE type = 'index'")
            else:
                query = sa.text(
                    "SELECT indexname, replace(indexdef, current_schema() || '.', '') "
                    "FROM pg_indexes WHERE schemaname = current_schema()"
                )
            return {name: definition for name, definition in connection.execute(query)}
    finally:
        engine.dispose()


def stored_text(database_url: str) -> dict[str, tuple[Any, ...]]:
    """Event id -> the audit row's cells as the database holds them (JSON and instants as
    stored text on SQLite, as PostgreSQL prints them), but ``position`` and
    ``projected_at``."""
    columns = [column.name for column in audit_log.columns
               if column.name not in ("position", "projected_at")]
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            cast = "" if engine.dialect.name == "sqlite" else "::text"
            listed = ", ".join(f'"{name}"{cast}' for name in columns)
            query = sa.text(f"SELECT {listed} FROM audit_log")
            return {row[0]: tuple(row) for row in connection.execute(query)}
    finally:
        engine.dispose()


def refuse_directories(*_args: object, **_kwargs: object) -> str:
    """``tempfile.mkdtemp`` in a directory this process may not write to (which root, who
    runs these tests, cannot be refused for real)."""
    raise PermissionError(13, "Permission denied")
