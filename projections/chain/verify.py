"""Verifying the stored audit chains: every partition walked in offset order, rows re-hashed.

Each row's hash is recomputed from its payload, position and stored previous hash, and
its envelope columns are checked against its payload; :mod:`projections.chain.walk` then
finds the first broken link of each partition. Reads only; one partition at a time, one
page of rows at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, Text, cast, select

from projections.chain.hashing import chain_hash
from projections.chain.heads import ChainHead, all_heads
from projections.chain.walk import ChainBreak, ChainRow, walk_partition
from projections.db.rows import audit_row, event_from_payload
from projections.db.tables import audit_log
from projections.model.positioned import PartitionKey, PositionedEvent
from schemas.errors import InvalidEventError

PAGE = 2_000
"""Audit rows read per query."""

ENVELOPE_COLUMNS = (
    "event_id", "event_type", "credential_id", "client_id", "user_id", "actor_kind",
    "actor_id", "correlation_id", "source", "occurred_at", "recorded_at", "sequence",
    "source_ip", "outcome", "denial_reason",
)
"""Columns that repeat what the payload says; they must agree with it."""


@dataclass(frozen=True, slots=True)
class PartitionVerdict:
    """One partition's chain: rows walked, where it ends, and its first break (None: intact)."""

    topic: str
    partition: int
    rows: int
    last_offset: int | None
    last_hash: str
    head: ChainHead | None
    first_break: ChainBreak | None


def chain_partitions(connection: Connection) -> list[PartitionKey]:
    """Every (topic, partition) with audit rows or a chain head, in order."""
    query = select(audit_log.c.kafka_topic, audit_log.c.kafka_partition).distinct()
    found = {(topic, partition) for topic, partition in connection.execute(query)}
    return sorted(found | set(all_heads(connection)))


def verify_chains(connection: Connection) -> list[PartitionVerdict]:
    """Walk every partition's chain; one verdict per partition."""
    heads = all_heads(connection)
    verdicts = []
    for topic, partition in chain_partitions(connection):
        head = heads.get((topic, partition))
        rows = (checked_row(row) for row in partition_rows(connection, topic, partition))
        walked = walk_partition(rows, head)
        verdicts.append(
            PartitionVerdict(
                topic, partition, walked.rows, walked.last_offset, walked.last_hash, head,
                walked.first_break,
            )
        )
    return verdicts


def partition_rows(
    connection: Connection, topic: str, partition: int, below: int | None = None
) -> Iterator[RowMapping]:
    """The audit rows of one partition in offset order (then position), page by page.

    ``payload`` is returned as the stored JSON text, so that a payload altered into
    malformed JSON is reported rather than failing the read. ``below``: only rows at
    offsets under it.
    """
    after: tuple[int, int] | None = None
    while True:
        columns = [column for column in audit_log.c if column.name != "payload"]
        query = select(*columns, cast(audit_log.c.payload, Text).label("payload")).where(
            audit_log.c.kafka_topic == topic, audit_log.c.kafka_partition == partition
        )
        if below is not None:
            query = query.where(audit_log.c.kafka_offset < below)
        if after is not None:
            offset, position = after
            query = query.where(
                (audit_log.c.kafka_offset > offset)
                | ((audit_log.c.kafka_offset == offset) & (audit_log.c.position > position))
            )
        query = query.order_by(audit_log.c.kafka_offset, audit_log.c.position).limit(PAGE)
        page = [row._mapping for row in connection.execute(query)]
        yield from page
        if len(page) < PAGE:
            return
        after = (page[-1]["kafka_offset"], page[-1]["position"])


def checked_row(row: RowMapping) -> ChainRow:
    """A row with its content checked: payload valid, columns agreeing, hash recomputed."""
    return ChainRow(
        position=row["position"],
        event_id=row["event_id"],
        offset=row["kafka_offset"],
        previous_hash=row["previous_hash"],
        chain_hash=row["chain_hash"],
        content_error=content_error(row),
    )


def content_error(row: RowMapping) -> str | None:
    """Why a row's content does not give its stored hash, or None when it does."""
    try:
        event = event_from_payload(row["event_type"], json.loads(row["payload"]))
    except (InvalidEventError, ValueError, KeyError, TypeError) as exc:
        return f"payload is not a valid event: {exc}"
    topic, partition, offset = row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]
    expected: dict[str, Any] = audit_row(
        PositionedEvent(event, topic, partition, offset), (), row["projected_at"]
    )
    for column in ENVELOPE_COLUMNS:
        if row[column] != expected[column]:
            return f"column {column} is {row[column]!r} but the payload says {expected[column]!r}"
    if row["is_anomaly"] != bool(row["anomalies"]):
        return f"is_anomaly is {row['is_anomaly']} but anomalies are {row['anomalies']!r}"
    try:
        recomputed = chain_hash(row["previous_hash"], event, topic, partition, offset)
    except ValueError as exc:
        return f"previous_hash is malformed: {exc}"
    if recomputed != row["chain_hash"]:
        return (
            f"content does not match its hash: stored {row['chain_hash'][:16]}..., "
            f"recomputed {recomputed[:16]}..."
        )
    return None
