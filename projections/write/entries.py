"""Pure steps of applying a batch: checking its offsets, sorting out repeated event ids,
and chaining its audit rows after the partitions' heads (hash chain and Merkle log).

Shared by the live store (:mod:`projections.write.store`) and the bulk replay
(:mod:`projections.bulk`), so that both build the same rows from the same events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from projections.chain.hashing import entry_document, entry_leaf, link_hash
from projections.chain.heads import ChainHead
from projections.chain.merkle import Frontier
from projections.db.backends import RowSink
from projections.db.rows import audit_row
from projections.model.anomalies import Anomaly
from projections.model.positioned import PartitionKey, PositionedEvent


class InvalidBatchError(ValueError):
    """A batch whose positions do not agree with the next offsets given to store."""


def append_chained(
    entries: Sequence[tuple[PositionedEvent, tuple[Anomaly, ...]]],
    heads: Mapping[PartitionKey, ChainHead],
    frontiers: Mapping[PartitionKey, Frontier],
    projected_at: datetime,
    append: RowSink,
    payloads: Mapping[str, dict[str, Any]] | None = None,
) -> tuple[dict[PartitionKey, ChainHead], dict[PartitionKey, list[tuple[int, int, bytes]]]]:
    """Append the audit row of every entry, each partition's rows hash-chained in offset
    order after its head and appended to its Merkle log; return the moved heads and the
    Merkle nodes each partition's log completed. ``payloads``: the stored payload of each
    event id, when the caller has them already.

    Rows go out in batch order, which is offset order within each partition for anything
    read from Kafka; a batch that is not is written partition by partition in offset order.
    """
    if not offsets_ascend(entry[0] for entry in entries):
        entries = sorted(
            entries, key=lambda entry: (entry[0].topic, entry[0].partition, entry[0].offset)
        )
    previous = {key: head.chain_hash for key, head in heads.items()}
    last_offsets: dict[PartitionKey, int] = {}
    completed: dict[PartitionKey, list[tuple[int, int, bytes]]] = {}
    for positioned, flags in entries:
        key = (positioned.topic, positioned.partition)
        payload = None if payloads is None else payloads[str(positioned.event.event_id)]
        row = audit_row(positioned, flags, projected_at, payload)
        document = entry_document(
            positioned.event, row["anomalies"], positioned.topic, positioned.partition,
            positioned.offset, row["payload"],
        )
        row["previous_hash"] = previous[key]
        row["chain_hash"] = previous[key] = link_hash(previous[key], document)
        row["leaf_index"] = frontiers[key].size
        append(row)
        completed.setdefault(key, []).extend(frontiers[key].append(entry_leaf(document)))
        last_offsets[key] = positioned.offset
    moved = {
        key: ChainHead(
            last_offsets[key], previous[key], frontiers[key].size,
            tuple(frontiers[key].hashes), heads[key].log_id,
        )
        for key in last_offsets
    }
    return moved, completed


def offsets_ascend(batch: Iterable[PositionedEvent]) -> bool:
    last: dict[PartitionKey, int] = {}
    for positioned in batch:
        key = (positioned.topic, positioned.partition)
        if positioned.offset <= last.get(key, -1):
            return False
        last[key] = positioned.offset
    return True


def unique_events(
    batch: Sequence[PositionedEvent],
) -> tuple[dict[str, PositionedEvent], list[tuple[PositionedEvent, str]]]:
    """The batch by event id (first occurrence of each id, in batch order), and the later
    occurrences of an id that carry another event than the first."""
    unique: dict[str, PositionedEvent] = {}
    conflicts: list[tuple[PositionedEvent, str]] = []
    for positioned in batch:
        first = unique.setdefault(str(positioned.event.event_id), positioned)
        if first is not positioned and first.event != positioned.event:
            conflicts.append((positioned, conflict_reason(positioned, position_text(first))))
    return unique, conflicts


def position_text(positioned: PositionedEvent) -> str:
    return f"{positioned.topic}[{positioned.partition}]@{positioned.offset}"


def conflict_reason(positioned: PositionedEvent, where: str) -> str:
    return (
        f"event id {positioned.event.event_id} is already recorded with other content "
        f"(at {where}); this is not a re-delivery of it"
    )


def check_offsets(
    batch: Sequence[PositionedEvent], next_offsets: Mapping[tuple[str, int], int]
) -> None:
    for positioned in batch:
        key = (positioned.topic, positioned.partition)
        given = next_offsets.get(key)
        if given is None or given <= positioned.offset:
            raise InvalidBatchError(
                f"event at {positioned.topic}[{positioned.partition}]@{positioned.offset} "
                f"needs a next offset above {positioned.offset}, got {given}"
            )
