"""The stored nodes of the Merkle logs: written as batches extend them, read for roots and
proofs (every node a proof needs in one query)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, and_, or_, select

from projections.chain import merkle
from projections.chain.merkle import NodeId
from projections.db.backends import RowSink, backend_of
from projections.db.tables import merkle_logs, merkle_nodes
from projections.model.positioned import PartitionKey

NODE_COLUMNS = ("log_id", "level", "idx", "hash")

class MissingNodeError(LookupError):
    """A node a root or proof needs is not stored (the log is shorter than asked)."""


@contextmanager
def node_appender(connection: Connection) -> Iterator[NodeWriter]:
    """A writer of completed nodes, inside the caller's transaction (COPY on PostgreSQL)."""
    with backend_of(connection).appender(connection, merkle_nodes, NODE_COLUMNS) as append:
        yield NodeWriter(append)


class NodeWriter:
    """Appends the nodes a log's frontier emits."""

    def __init__(self, append: RowSink) -> None:
        self._append = append

    def write(self, log_id: int, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        append = self._append
        for level, index, value in nodes:
            append({"log_id": log_id, "level": level, "idx": index, "hash": value})


def log_id_of(connection: Connection, key: PartitionKey) -> int | None:
    """The id of a partition's Merkle log; None when it has none."""
    topic, partition = key
    query = select(merkle_logs.c.log_id).where(
        merkle_logs.c.topic == topic, merkle_logs.c.partition == partition
    )
    found = connection.scalar(query)
    return None if found is None else int(found)


def fetch_nodes(connection: Connection, log_id: int, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    """The stored hashes of ``ids``; MissingNodeError naming one that is not stored."""
    if not ids:
        return {}
    by_level: dict[int, list[int]] = {}
    for level, index in ids:
        by_level.setdefault(level, []).append(index)
    condition = or_(*(
        and_(merkle_nodes.c.level == level, merkle_nodes.c.idx.in_(indexes))
        for level, indexes in sorted(by_level.items())
    ))
    query = select(merkle_nodes.c.level, merkle_nodes.c.idx, merkle_nodes.c.hash).where(
        merkle_nodes.c.log_id == log_id, condition
    )
    found = {(level, index): bytes(value) for level, index, value in connection.execute(query)}
    missing = [node for node in ids if node not in found]
    if missing:
        raise MissingNodeError(f"Merkle log {log_id} has no node {missing[0]}")
    return found


def fetcher(connection: Connection, log_id: int) -> merkle.NodeFetcher:
    def fetch(ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return fetch_nodes(connection, log_id, ids)

    return fetch


def root_at(connection: Connection, log_id: int, size: int) -> bytes:
    return merkle.root_of(size, fetcher(connection, log_id))


def inclusion_proof(connection: Connection, log_id: int, index: int, size: int) -> list[bytes]:
    return merkle.prove_inclusion(index, size, fetcher(connection, log_id))


def consistency_proof(connection: Connection, log_id: int, first: int, size: int) -> list[bytes]:
    return merkle.prove_consistency(first, size, fetcher(connection, log_id))


def logs(connection: Connection) -> list[PartitionKey]:
    """The (topic, partition) of every Merkle log."""
    query = select(merkle_logs.c.topic, merkle_logs.c.partition).order_by(
        merkle_logs.c.topic, merkle_logs.c.partition
    )
    return [(topic, partition) for topic, partition in connection.execute(query)]
