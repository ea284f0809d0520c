"""Reading and moving the ends of the audit chains while a batch is applied."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, select, tuple_

from projections.chain.hashing import GENESIS_HASH
from projections.db.backends import backend_of
from projections.db.tables import audit_chain_heads
from projections.model.positioned import PartitionKey


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last row of one partition's chain: its offset and hash, and the chain's length."""

    last_offset: int
    chain_hash: str
    length: int


EMPTY_CHAIN = ChainHead(last_offset=-1, chain_hash=GENESIS_HASH, length=0)
"""The head of a partition without rows: the next row links to the genesis hash."""


def locked_heads(
    connection: Connection, partitions: Collection[PartitionKey]
) -> dict[PartitionKey, ChainHead]:
    """The chain heads of ``partitions``, locked until the transaction ends.

    Missing heads are created empty first (``ON CONFLICT DO NOTHING``), so that on
    PostgreSQL two writers extending one partition take turns instead of forking the chain.
    SQLite's write transaction already excludes other writers.
    """
    if not partitions:
        return {}
    ordered = sorted(partitions)
    heads = _select_heads(connection, ordered, lock=True)
    missing = [key for key in ordered if key not in heads]
    if missing:
        insert = backend_of(connection).insert(audit_chain_heads).on_conflict_do_nothing()
        connection.execute(insert, [_head_row(key, EMPTY_CHAIN) for key in missing])
        heads.update(_select_heads(connection, missing, lock=True))
    return heads


def store_heads(connection: Connection, heads: Mapping[PartitionKey, ChainHead]) -> None:
    """Move the given chain heads (rows locked by :func:`locked_heads`)."""
    for key, head in sorted(heads.items()):
        topic, partition = key
        connection.execute(
            audit_chain_heads.update()
            .where(audit_chain_heads.c.topic == topic, audit_chain_heads.c.partition == partition)
            .values(last_offset=head.last_offset, chain_hash=head.chain_hash, length=head.length)
        )


def all_heads(connection: Connection) -> dict[PartitionKey, ChainHead]:
    """Every stored chain head."""
    query = select(audit_chain_heads)
    return {
        (row.topic, row.partition): ChainHead(row.last_offset, row.chain_hash, row.length)
        for row in connection.execute(query)
    }


def _select_heads(
    connection: Connection, keys: list[PartitionKey], *, lock: bool
) -> dict[PartitionKey, ChainHead]:
    pair = tuple_(audit_chain_heads.c.topic, audit_chain_heads.c.partition)
    query = (
        select(audit_chain_heads)
        .where(pair.in_(keys))
        .order_by(audit_chain_heads.c.topic, audit_chain_heads.c.partition)
    )
    if lock:
        query = query.with_for_update()
    return {
        (row.topic, row.partition): ChainHead(row.last_offset, row.chain_hash, row.length)
        for row in connection.execute(query)
    }


def _head_row(key: PartitionKey, head: ChainHead) -> dict[str, object]:
    topic, partition = key
    return {
        "topic": topic,
        "partition": partition,
        "last_offset": head.last_offset,
        "chain_hash": head.chain_hash,
        "length": head.length,
    }
