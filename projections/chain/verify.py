"""Verifying the stored audit chains and Merkle logs, partition by partition (reads only).

Each partition's rows are walked in offset order, one page at a time. Every row is checked
on its own: its payload is a valid event, its columns agree with the payload, its anomaly
flags are valid names, and its chain hash is recomputed from its entry document
(:mod:`projections.chain.hashing`) and stored previous hash. :mod:`projections.chain.walk`
then finds the first broken link, inserted, removed or reordered row. Beside the chain, the
partition's Merkle log is rebuilt from the rows: each row's leaf hash must be the stored
leaf (level-0 node) at its index, the rebuilt root must be the root of the stored head, and
the roots at the sizes asked for (those of signed checkpoints) are handed back.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Text, cast, func, select

from projections.chain.hashing import CanonicalFormError, entry_document, entry_leaf, link_hash
from projections.chain.heads import ChainHead, all_heads
from projections.chain.merkle import Frontier
from projections.chain.walk import ChainBreak, ChainProblem, ChainRow, walk_partition
from projections.db.rows import audit_row, event_from_payload
from projections.db.tables import audit_log, merkle_nodes
from projections.model.anomalies import Anomaly
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

_KINDS = frozenset(kind.value for kind in Anomaly)


@dataclass(frozen=True, slots=True)
class PartitionVerdict:
    """One partition's chain and Merkle log: rows walked, where it ends, its first break
    (None: intact), the rebuilt Merkle root, and the rebuilt roots at the sizes asked for."""

    topic: str
    partition: int
    rows: int
    last_offset: int | None
    last_hash: str
    head: ChainHead | None
    first_break: ChainBreak | None
    merkle_root: bytes = b""
    roots_at: dict[int, bytes] = field(default_factory=dict)
    positions: dict[int, tuple[int, str]] = field(default_factory=dict)
    """Leaf index -> (position, event id), for the rows at the sizes asked for (minus one)."""
    late: LateEntry | None = None
    """The first row written after the deadline it was given (see :func:`verify_chains`)."""


@dataclass(frozen=True, slots=True)
class LateEntry:
    """A row whose ``projected_at`` is after the time of the first checkpoint covering it."""

    index: int
    position: int
    event_id: str
    projected_at: datetime
    deadline: datetime


def chain_partitions(connection: Connection) -> list[PartitionKey]:
    """Every (topic, partition) with audit rows or a chain head, in order."""
    query = select(audit_log.c.kafka_topic, audit_log.c.kafka_partition).distinct()
    found = {(topic, partition) for topic, partition in connection.execute(query)}
    return sorted(found | set(all_heads(connection)))


Deadlines = Sequence[tuple[int, datetime]]
"""(size, instant): the first ``size`` entries existed at ``instant`` (a checkpoint's word)."""


def verify_chains(
    connection: Connection,
    sizes: Mapping[PartitionKey, Collection[int]] | None = None,
    deadlines: Mapping[PartitionKey, Deadlines] | None = None,
) -> list[PartitionVerdict]:
    """Walk every partition's chain and Merkle log; one verdict per partition.

    ``sizes``: per partition, the log sizes whose rebuilt roots to hand back; ``deadlines``:
    per partition, instants by which the first entries existed; a row written later is
    reported as late.
    """
    heads = all_heads(connection)
    wanted, due = sizes or {}, deadlines or {}
    return [
        verify_partition(
            connection, key, heads.get(key), set(wanted.get(key, ())), due.get(key, ())
        )
        for key in chain_partitions(connection)
    ]


def verify_partition(
    connection: Connection,
    key: PartitionKey,
    head: ChainHead | None,
    sizes: set[int],
    deadlines: Deadlines = (),
) -> PartitionVerdict:
    topic, partition = key
    rebuilt = _Rebuilt(connection, head, sizes, deadlines)
    rows = (rebuilt.checked(row) for row in partition_rows(connection, topic, partition))
    walked = walk_partition(rows, head)
    first_break = walked.first_break or rebuilt.first_mismatch or rebuilt.tail_mismatch()
    return PartitionVerdict(
        topic, partition, walked.rows, walked.last_offset, walked.last_hash, head, first_break,
        rebuilt.frontier.root(), rebuilt.roots_at, rebuilt.positions, rebuilt.late,
    )


class _Rebuilt:
    """The Merkle log rebuilt from a partition's rows as they are walked, held against the
    stored leaves and head."""

    def __init__(
        self, connection: Connection, head: ChainHead | None, sizes: set[int],
        deadlines: Deadlines,
    ) -> None:
        self.connection = connection
        self.head = head
        self.sizes = sizes
        self.deadlines = _earliest_per_size(deadlines)
        self.late: LateEntry | None = None
        self.frontier = Frontier()
        self.roots_at: dict[int, bytes] = {}
        self.positions: dict[int, tuple[int, str]] = {}
        self.first_mismatch: ChainBreak | None = None
        self._stored: dict[int, bytes] = {}

    def checked(self, row: RowMapping) -> ChainRow:
        error, leaf = content_check(row)
        index = self.frontier.size
        if leaf is not None and self.first_mismatch is None:
            stored = self._stored_leaf(index)
            if stored is not None and stored != leaf:
                self.first_mismatch = ChainBreak(
                    ChainProblem.ALTERED, row["kafka_offset"], row["position"], row["event_id"],
                    f"its leaf hash is not the Merkle log's leaf {index} ({stored.hex()[:16]}...)",
                )
        self._check_deadline(index, row)
        self.frontier.append(leaf if leaf is not None else b"\x00" * 32)
        size = self.frontier.size
        if size in self.sizes:
            self.roots_at[size] = self.frontier.root()
            self.positions[size - 1] = (row["position"], row["event_id"])
        return ChainRow(
            position=row["position"], event_id=row["event_id"], offset=row["kafka_offset"],
            previous_hash=row["previous_hash"], chain_hash=row["chain_hash"],
            content_error=error, leaf_index=row["leaf_index"],
        )

    def _check_deadline(self, index: int, row: RowMapping) -> None:
        while self.deadlines and self.deadlines[0][0] <= index:
            self.deadlines.pop(0)
        if self.late is not None or not self.deadlines:
            return
        deadline = self.deadlines[0][1]
        if row["projected_at"] > deadline:
            self.late = LateEntry(
                index, row["position"], row["event_id"], row["projected_at"], deadline
            )

    def _stored_leaf(self, index: int) -> bytes | None:
        if self.head is None or not self.head.log_id:
            return None
        if index not in self._stored:
            self._stored = _stored_leaves(self.connection, self.head.log_id, index, PAGE)
        return self._stored.get(index)

    def tail_mismatch(self) -> ChainBreak | None:
        if self.head is None or self.head.length != self.frontier.size:
            return None
        if self.head.root != self.frontier.root():
            return ChainBreak(
                ChainProblem.ALTERED, self.head.last_offset, None, None,
                f"the head's Merkle root {self.head.root.hex()[:16]}... is not the root "
                f"{self.frontier.root().hex()[:16]}... of the rows",
            )
        if self.head.log_id:
            stored = _stored_leaf_count(self.connection, self.head.log_id)
            if stored != self.frontier.size:
                return ChainBreak(
                    ChainProblem.REMOVED, self.head.last_offset, None, None,
                    f"the Merkle log holds {stored} leaves, the partition "
                    f"{self.frontier.size} rows",
                )
        return None


def _earliest_per_size(deadlines: Deadlines) -> list[tuple[int, datetime]]:
    """Deadlines by size, ascending; each the earliest instant known for that many entries
    or more (a larger checkpoint vouches for every smaller prefix too)."""
    earliest: list[tuple[int, datetime]] = []
    best: datetime | None = None
    for size, instant in sorted(deadlines, reverse=True):
        best = instant if best is None or instant < best else best
        earliest.append((size, best))
    earliest.reverse()
    return earliest


def _stored_leaves(connection: Connection, log_id: int, start: int, count: int) -> dict[int, bytes]:
    query = select(merkle_nodes.c.idx, merkle_nodes.c.hash).where(
        merkle_nodes.c.log_id == log_id, merkle_nodes.c.level == 0,
        merkle_nodes.c.idx >= start, merkle_nodes.c.idx < start + count,
    )
    return {index: bytes(value) for index, value in connection.execute(query)}


def _stored_leaf_count(connection: Connection, log_id: int) -> int:
    query = select(func.count()).select_from(merkle_nodes).where(
        merkle_nodes.c.log_id == log_id, merkle_nodes.c.level == 0
    )
    return int(connection.scalar(query) or 0)


def raw_columns() -> list[Any]:
    """The audit columns with ``payload`` and ``anomalies`` as the stored JSON text, so that
    a value altered into malformed JSON is reported rather than failing the read."""
    texts = ("payload", "anomalies")
    columns: list[Any] = [column for column in audit_log.c if column.name not in texts]
    columns += [cast(audit_log.c[name], Text).label(name) for name in texts]
    return columns


def partition_rows(
    connection: Connection, topic: str, partition: int, below: int | None = None
) -> Iterator[RowMapping]:
    """The audit rows of one partition in offset order (then position), page by page, as
    :func:`raw_columns` reads them. ``below``: only rows at offsets under it."""
    after: tuple[int, int] | None = None
    columns = raw_columns()
    while True:
        query = select(*columns).where(
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
    error, _leaf = content_check(row)
    return ChainRow(
        position=row["position"], event_id=row["event_id"], offset=row["kafka_offset"],
        previous_hash=row["previous_hash"], chain_hash=row["chain_hash"], content_error=error,
    )


def content_error(row: RowMapping) -> str | None:
    """Why a row's content does not give its stored hash, or None when it does."""
    return content_check(row)[0]


def content_check(row: RowMapping) -> tuple[str | None, bytes | None]:
    """Why a row's content does not give its stored hash (None when it does), and the leaf
    hash of its entry document (None when the content cannot be read)."""
    error, document = checked_document(row)
    return error, None if document is None else entry_leaf(document)


def checked_document(row: RowMapping) -> tuple[str | None, bytes | None]:
    """Why a row's content does not give its stored hash (None when it does), and its entry
    document (None when the content cannot be read)."""
    try:
        event = event_from_payload(row["event_type"], json.loads(row["payload"]))
    except (InvalidEventError, ValueError, KeyError, TypeError) as exc:
        return f"payload is not a valid event: {exc}", None
    anomalies = _anomalies(row["anomalies"])
    if isinstance(anomalies, str):
        return anomalies, None
    topic, partition, offset = row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]
    expected: dict[str, Any] = audit_row(
        PositionedEvent(event, topic, partition, offset), (), row["projected_at"]
    )
    for column in ENVELOPE_COLUMNS:
        if row[column] != expected[column]:
            said = f"the payload says {expected[column]!r}"
            return f"column {column} is {row[column]!r} but {said}", None
    if row["is_anomaly"] != bool(anomalies):
        return f"is_anomaly is {row['is_anomaly']} but anomalies are {anomalies!r}", None
    try:
        document = entry_document(event, anomalies, topic, partition, offset)
        recomputed = link_hash(row["previous_hash"], document)
    except CanonicalFormError as exc:
        return f"the entry has no canonical document: {exc}", None
    except ValueError as exc:
        return f"previous_hash is malformed: {exc}", None
    if recomputed != row["chain_hash"]:
        return (
            f"content does not match its hash: stored {row['chain_hash'][:16]}..., "
            f"recomputed {recomputed[:16]}..."
        ), document
    return None, document


def _anomalies(text: str) -> list[str] | str:
    """The stored flags, or why they are not a list of known anomaly kinds."""
    try:
        flags = json.loads(text)
    except ValueError:
        return f"anomalies are not JSON: {text[:80]!r}"
    if not isinstance(flags, list) or not all(isinstance(flag, str) for flag in flags):
        return f"anomalies are not a list of names: {text[:80]!r}"
    unknown = [flag for flag in flags if flag not in _KINDS]
    if unknown:
        return f"anomalies hold unknown kinds {unknown[:3]!r}"
    return flags
