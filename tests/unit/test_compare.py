"""Comparing two projections (SQLite files, no services): what differs, what is left out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from projections.db import migrate
from projections.db.engine import create_engine_for
from projections.db.tables import audit_log, credentials
from projections.forensics.compare import Comparison, DifferenceKind, Subject, compare
from projections.model.positioned import PositionedEvent
from projections.write.store import ProjectionStore
from tests.builders_projection import History, Partition


def placed_events() -> tuple[list[PositionedEvent], list[PositionedEvent]]:
    """Three credentials on two partitions, and a later batch for one of them."""
    a, b, c = History("cred-a"), History("cred-b"), History("cred-c", user_id="user-2")
    zero, one = Partition(0), Partition(1)
    first = [
        *zero.place([a.created(), a.used("10.0.0.1"), c.created(), a.roles_scoped("admin")]),
        *one.place([b.created(), b.used("10.0.0.2"), b.deleted()]),
    ]
    later = zero.place([a.used("10.0.0.9"), a.deleted()])
    return first, later


def offsets(placed: list[PositionedEvent]) -> dict[tuple[str, int], int]:
    found: dict[tuple[str, int], int] = {}
    for positioned in placed:
        key = (positioned.topic, positioned.partition)
        found[key] = max(found.get(key, 0), positioned.offset + 1)
    return found


def projection(url: str, batches: list[list[PositionedEvent]], hour: int) -> None:
    migrate.upgrade(url)
    engine = create_engine_for(url)
    try:
        store = ProjectionStore(engine, clock=lambda: datetime(2026, 3, 4, hour, tzinfo=UTC))
        for batch in batches:
            store.apply(batch, offsets(batch))
    finally:
        engine.dispose()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    first, _later = placed_events()
    live_url, replay_url = f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'r.db'}"
    projection(live_url, [first], hour=1)
    projection(replay_url, [first[:3], first[3:]], hour=2)
    live, replayed = create_engine_for(live_url), create_engine_for(replay_url)
    yield live, replayed
    live.dispose()
    replayed.dispose()


def compared(engines: tuple[sa.Engine, sa.Engine]) -> Comparison:
    live, replayed = engines
    with live.connect() as left, replayed.connect() as right:
        return compare(left, right)


def tamper(engine: sa.Engine, statement: sa.Executable) -> None:
    with engine.begin() as connection:
        connection.execute(statement)


def test_two_projections_of_the_same_events_are_identical(
    engines: tuple[sa.Engine, sa.Engine],
) -> None:
    result = compared(engines)
    assert result.identical
    assert (result.credentials_compared, result.audit_rows_compared) == (3, 7)
    assert (result.credentials_skipped, result.audit_rows_skipped) == (0, 0)


def test_a_changed_audit_column_is_reported_with_both_values(
    engines: tuple[sa.Engine, sa.Engine],
) -> None:
    live, _replayed = engines
    with live.connect() as connection:
        event_id = (
            connection.execute(sa.select(audit_log.c.event_id).where(audit_log.c.kafka_offset == 1))
            .scalars()
            .first()
        )
    tamper(
        live, audit_log.update().where(audit_log.c.event_id == event_id).values(source_ip="6.6.6.6")
    )
    (difference,) = compared(engines).differences
    assert (difference.subject, difference.key, difference.kind) == (
        Subject.AUDIT,
        event_id,
        DifferenceKind.CHANGED,
    )
    assert (difference.column, difference.live) == ("source_ip", "6.6.6.6")
    assert difference.replayed in ("10.0.0.1", "10.0.0.2")


def test_a_deleted_audit_row_is_missing_and_a_foreign_one_extra(
    engines: tuple[sa.Engine, sa.Engine],
) -> None:
    live, _replayed = engines
    with live.connect() as connection:
        row = dict(
            connection.execute(sa.select(audit_log).where(audit_log.c.kafka_offset == 0).limit(1))
            .one()
            ._mapping
        )
    tamper(live, audit_log.delete().where(audit_log.c.event_id == row["event_id"]))
    forged = {
        **row,
        "position": None,
        "event_id": "00000000-0000-4000-8000-000000000000",
        "kafka_offset": 2,
        "kafka_partition": 5,
    }
    forged.pop("position")
    tamper(live, audit_log.insert().values(**forged))
    differences = {(d.key, d.kind) for d in compared(engines).differences}
    assert differences == {
        (row["event_id"], DifferenceKind.MISSING),
        ("00000000-0000-4000-8000-000000000000", DifferenceKind.EXTRA),
    }


def test_a_changed_or_deleted_credential_is_reported(engines: tuple[sa.Engine, sa.Engine]) -> None:
    live, _replayed = engines
    tamper(
        live,
        credentials.update()
        .where(credentials.c.credential_id == "cred-a")
        .values(scoped_roles=["root"]),
    )
    tamper(live, credentials.delete().where(credentials.c.credential_id == "cred-b"))
    found = {(d.subject, d.key, d.kind, d.column) for d in compared(engines).differences}
    assert found == {
        (Subject.CREDENTIAL, "cred-a", DifferenceKind.CHANGED, "scoped_roles"),
        (Subject.CREDENTIAL, "cred-b", DifferenceKind.MISSING, None),
    }
    (changed,) = [d for d in compared(engines).differences if d.kind is DifferenceKind.CHANGED]
    assert (changed.live, changed.replayed) == (["root"], ["admin"])


def test_only_what_both_reached_is_compared(tmp_path: Path) -> None:
    first, later = placed_events()
    live_url, replay_url = f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'r.db'}"
    projection(live_url, [first, later], hour=1)
    projection(replay_url, [first], hour=2)
    live, replayed = create_engine_for(live_url), create_engine_for(replay_url)
    try:
        result = compared((live, replayed))
    finally:
        live.dispose()
        replayed.dispose()
    assert result.identical
    assert (result.credentials_skipped, result.audit_rows_skipped) == (1, 2), "cred-a moved on"
    assert (result.credentials_compared, result.audit_rows_compared) == (2, 7)
