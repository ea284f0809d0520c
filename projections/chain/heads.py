"""Reading and moving the ends of the audit chains (and their Merkle logs) as batches apply."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, RowMapping, select, tuple_

from projections.chain.hashing import GENESIS_HASH
from projections.chain.merkle import Frontier, fold
from projections.db.backends import backend_of
from projections.db.tables import audit_chain_heads, audit_chain_v1_heads, merkle_logs
from projections.model.positioned import PartitionKey


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last row of one partition's chain: its offset and hash, the chain's length (the
    size of the partition's Merkle log), the log's frontier and the log's id."""

    last_offset: int
    chain_hash: str
    length: int
    frontier: tuple[bytes, ...] = ()
    log_id: int = field(default=0, compare=False)

    @property
    def root(self) -> bytes:
        """The root of the partition's Merkle log at this head."""
        return fold(self.frontier)

    def merkle_frontier(self) -> Frontier:
        return Frontier(self.length, self.frontier)


EMPTY_CHAIN = ChainHead(last_offset=-1, chain_hash=GENESIS_HASH, length=0)
"""The head of a partition without rows: the next row links to the genesis hash."""


def locked_heads(
    connection: Connection, partitions: Collection[PartitionKey]
) -> dict[PartitionKey, ChainHead]:
    """The chain heads of ``partitions``, locked until the transaction ends.

    Missing heads (and Merkle logs) are created empty first (``ON CONFLICT DO NOTHING``), so
    that on PostgreSQL two writers extending one partition take turns instead of forking
    the chain. SQLite's write transaction already excludes other writers.
    """
    if not partitions:
        return {}
    ordered = sorted(partitions)
    heads = _select_heads(connection, ordered, lock=True)
    missing = [key for key in ordered if key not in heads]
    if missing:
        backend = backend_of(connection)
        connection.execute(
            backend.insert(merkle_logs).on_conflict_do_nothing(),
            [{"topic": topic, "partition": partition} for topic, partition in missing],
        )
        connection.execute(
            backend.insert(audit_chain_heads).on_conflict_do_nothing(),
            [_head_row(key, EMPTY_CHAIN) for key in missing],
        )
        heads.update(_select_heads(connection, missing, lock=True))
    return heads


def store_heads(connection: Connection, heads: Mapping[PartitionKey, ChainHead]) -> None:
    """Move the given chain heads (rows locked by :func:`locked_heads`)."""
    for key, head in sorted(heads.items()):
        topic, partition = key
        connection.execute(
            audit_chain_heads.update()
            .where(audit_chain_heads.c.topic == topic, audit_chain_heads.c.partition == partition)
            .values(
                last_offset=head.last_offset, chain_hash=head.chain_hash, length=head.length,
                frontier=[value.hex() for value in head.frontier],
            )
        )


def all_heads(connection: Connection) -> dict[PartitionKey, ChainHead]:
    """Every stored chain head."""
    return _select_heads(connection, None, lock=False)


def _select_heads(
    connection: Connection, keys: list[PartitionKey] | None, *, lock: bool
) -> dict[PartitionKey, ChainHead]:
    query = (
        select(audit_chain_heads, merkle_logs.c.log_id)
        .join(
            merkle_logs,
            (merkle_logs.c.topic == audit_chain_heads.c.topic)
            & (merkle_logs.c.partition == audit_chain_heads.c.partition),
            isouter=True,
        )
        .order_by(audit_chain_heads.c.topic, audit_chain_heads.c.partition)
    )
    if keys is not None:
        pair = tuple_(audit_chain_heads.c.topic, audit_chain_heads.c.partition)
        query = query.where(pair.in_(keys))
    if lock:
        query = query.with_for_update(of=audit_chain_heads)
    return {(row.topic, row.partition): _head(row._mapping) for row in connection.execute(query)}


def _head(row: RowMapping) -> ChainHead:
    return ChainHead(
        row["last_offset"], row["chain_hash"], row["length"],
        tuple(bytes.fromhex(value) for value in row["frontier"]), row["log_id"] or 0,
    )


def _head_row(key: PartitionKey, head: ChainHead) -> dict[str, object]:
    topic, partition = key
    return {
        "topic": topic,
        "partition": partition,
        "last_offset": head.last_offset,
        "chain_hash": head.chain_hash,
        "length": head.length,
        "frontier": [value.hex() for value in head.frontier],
    }


@dataclass(frozen=True, slots=True)
class ReplacedChain:
    """A partition's v1 chain as revision 0004 found it when it re-hashed the rows."""

    topic: str
    partition: int
    chain_hash: str
    length: int
    replaced_at: datetime
    first_break_offset: int | None
    """The first offset whose row no longer gave the v1 chain (None: it was intact)."""


def broken_before_upgrade(connection: Connection) -> list[ReplacedChain]:
    """The partitions whose v1 chain was already broken when it was replaced: what was
    altered before the upgrade stays reported after it."""
    query = (
        select(audit_chain_v1_heads)
        .where(audit_chain_v1_heads.c.intact.is_(False))
        .order_by(audit_chain_v1_heads.c.topic, audit_chain_v1_heads.c.partition)
    )
    return [
        ReplacedChain(row.topic, row.partition, row.chain_hash, row.length, row.replaced_at,
                      row.first_break_offset)
        for row in connection.execute(query)
    ]
