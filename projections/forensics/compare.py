"""Comparing two projection databases: credential by credential, audit row by audit row.

Used to check a live projection against a replay of the topic. Rows are streamed from both
databases in key order and merged, so memory stays flat whatever their size. Audit rows are
matched by event id and compared on every column but ``position`` and ``projected_at``
(which legitimately differ between runs); credentials by id on every column.

When the two databases stopped at different consumer positions (the live projector moved
on while the replay ran), only what both have covered is compared: audit rows below the
lower position of their partition, and credentials with no audit row at or above it in
either database. What was left out is counted. Rows of partitions that only one database
has a position for are all compared.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Connection, select
from sqlalchemy.sql.elements import ColumnElement

from projections.db.backends import backend_of
from projections.db.tables import audit_log, consumer_positions, credentials
from projections.model.positioned import PartitionKey

IGNORED_AUDIT_COLUMNS = frozenset({"position", "projected_at"})
"""Audit columns that legitimately differ between two projections of the same events."""


class Subject(StrEnum):
    CREDENTIAL = "credential"
    AUDIT = "audit"


class DifferenceKind(StrEnum):
    CHANGED = "changed"
    """Both hold the row, with a different value in ``column``."""
    MISSING = "missing"
    """The replay holds the row, the live projection does not."""
    EXTRA = "extra"
    """The live projection holds the row, the replay does not."""


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference: which row (credential id or event id), which column, both values."""

    subject: Subject
    key: str
    kind: DifferenceKind
    column: str | None = None
    live: Any = None
    replayed: Any = None


@dataclass
class Comparison:
    """The differences found, and how much was compared."""

    differences: list[Difference] = field(default_factory=list)
    credentials_compared: int = 0
    audit_rows_compared: int = 0
    credentials_skipped: int = 0
    audit_rows_skipped: int = 0
    horizon: dict[PartitionKey, int] = field(default_factory=dict)
    """Per partition both databases hold a position for, the offset below which they were
    compared."""

    @property
    def identical(self) -> bool:
        return not self.differences


def positions(connection: Connection) -> dict[PartitionKey, int]:
    """(topic, partition) -> next offset, of every stored consumer position."""
    query = select(consumer_positions.c.topic, consumer_positions.c.partition,
                   consumer_positions.c.next_offset)
    return {(topic, partition): offset for topic, partition, offset in connection.execute(query)}


def horizon_of(
    live: dict[PartitionKey, int], replayed: dict[PartitionKey, int]
) -> dict[PartitionKey, int]:
    """Per partition both stored a position for, the lower of the two positions."""
    return {key: min(live[key], replayed[key]) for key in live.keys() & replayed.keys()}


def compare(live: Connection, replayed: Connection) -> Comparison:
    """Every difference between the live projection and the replayed one."""
    result = Comparison(horizon=horizon_of(positions(live), positions(replayed)))
    beyond = _touched_beyond(live, result.horizon) | _touched_beyond(replayed, result.horizon)
    _compare_audit(live, replayed, result)
    _compare_credentials(live, replayed, beyond, result)
    return result


def _sorted_by(connection: Connection, column: Column[Any]) -> ColumnElement[Any]:
    """``column`` for ORDER BY in code-point order, the order Python compares text in."""
    return backend_of(connection).code_point_order(column)


def _stream(connection: Connection, query: Any) -> Iterator[dict[str, Any]]:
    for row in connection.execution_options(stream_results=True, yield_per=2000).execute(query):
        yield dict(row._mapping)


def _within(row: dict[str, Any], horizon: dict[PartitionKey, int]) -> bool:
    limit = horizon.get((row["kafka_topic"], row["kafka_partition"]))
    return limit is None or bool(row["kafka_offset"] < limit)


def _touched_beyond(connection: Connection, horizon: dict[PartitionKey, int]) -> set[str]:
    """Credentials with an audit row at or above the horizon of its partition."""
    touched: set[str] = set()
    for (topic, partition), offset in horizon.items():
        query = select(audit_log.c.credential_id).distinct().where(
            audit_log.c.kafka_topic == topic,
            audit_log.c.kafka_partition == partition,
            audit_log.c.kafka_offset >= offset,
        )
        touched.update(connection.scalars(query))
    return touched


def _merged(
    live: Iterator[dict[str, Any]], replayed: Iterator[dict[str, Any]], key: str
) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """Pairs of rows with equal keys from two streams sorted by ``key`` (None: absent)."""
    left, right = next(live, None), next(replayed, None)
    while left is not None or right is not None:
        if right is None or (left is not None and left[key] < right[key]):
            yield left, None
            left = next(live, None)
        elif left is None or right[key] < left[key]:
            yield None, right
            right = next(replayed, None)
        else:
            yield left, right
            left, right = next(live, None), next(replayed, None)


def _row_differences(
    subject: Subject, key: str, live: dict[str, Any], replayed: dict[str, Any],
    columns: Sequence[str],
) -> list[Difference]:
    return [
        Difference(subject, key, DifferenceKind.CHANGED, column, live[column], replayed[column])
        for column in columns
        if live[column] != replayed[column]
    ]


def _compare_audit(live: Connection, replayed: Connection, result: Comparison) -> None:
    columns = [column.name for column in audit_log.c if column.name not in IGNORED_AUDIT_COLUMNS]
    selected = [audit_log.c[name] for name in columns]
    streams = [
        _stream(side, select(*selected).order_by(_sorted_by(side, audit_log.c.event_id)))
        for side in (live, replayed)
    ]
    for left, right in _merged(streams[0], streams[1], "event_id"):
        kept_left = left if left is not None and _within(left, result.horizon) else None
        kept_right = right if right is not None and _within(right, result.horizon) else None
        if kept_left is None and kept_right is None:
            result.audit_rows_skipped += 1
            continue
        result.audit_rows_compared += 1
        if kept_right is None:
            assert kept_left is not None
            result.differences.append(
                Difference(Subject.AUDIT, kept_left["event_id"], DifferenceKind.EXTRA)
            )
        elif kept_left is None:
            result.differences.append(
                Difference(Subject.AUDIT, kept_right["event_id"], DifferenceKind.MISSING)
            )
        else:
            result.differences.extend(
                _row_differences(Subject.AUDIT, kept_left["event_id"], kept_left, kept_right,
                                 columns)
            )


def _compare_credentials(
    live: Connection, replayed: Connection, beyond: set[str], result: Comparison
) -> None:
    columns = [column.name for column in credentials.c]
    streams = [
        _stream(side, select(credentials).order_by(_sorted_by(side, credentials.c.credential_id)))
        for side in (live, replayed)
    ]
    for left, right in _merged(streams[0], streams[1], "credential_id"):
        present = left if left is not None else right
        assert present is not None
        key = present["credential_id"]
        if key in beyond:
            result.credentials_skipped += 1
            continue
        result.credentials_compared += 1
        if right is None:
            result.differences.append(Difference(Subject.CREDENTIAL, key, DifferenceKind.EXTRA))
        elif left is None:
            result.differences.append(Difference(Subject.CREDENTIAL, key, DifferenceKind.MISSING))
        else:
            result.differences.extend(
                _row_differences(Subject.CREDENTIAL, key, left, right, columns)
            )
