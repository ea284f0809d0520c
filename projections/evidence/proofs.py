"""Proofs built from the store: one entry in a signed checkpoint, or one size of a log in
another.

An **inclusion proof** is a JSON object::

    {"format": "client-audit/inclusion-proof/v1",
     "entry": {... the entry as the API shows it ...},
     "document": "<the entry document, RFC 8785 text>",
     "log": {"topic": ..., "partition": ...},
     "leafIndex": <int>, "treeSize": <int>, "leafHash": "<hex>",
     "auditPath": ["<hex>", ...],
     "checkpoint": {"body": "<checkpoint body text>", "signature": "<base64>"}}

A **consistency proof**::

    {"format": "client-audit/consistency-proof/v1", "log": {...},
     "firstSize": m, "secondSize": n, "firstRoot": "<hex>", "secondRoot": "<hex>",
     "proof": ["<hex>", ...], "checkpoints": [<checkpoint of size m>, <of size n>]}

(the checkpoints that signed those sizes, when there are). :mod:`.verification` checks both.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from projections.chain import checkpoints, nodes
from projections.chain.merkle import ProofError, leaf_hash
from projections.chain.verify import checked_document, raw_columns
from projections.db.tables import audit_log, checkpoint_logs
from projections.queries.rows import AuditEntry

INCLUSION_FORMAT = "client-audit/inclusion-proof/v1"
CONSISTENCY_FORMAT = "client-audit/consistency-proof/v1"


class EvidenceError(ValueError):
    """A proof that cannot be made: no such entry, an entry that does not verify, no
    checkpoint covering it."""


class NotCoveredError(EvidenceError):
    """No signed checkpoint covers the entry yet."""


def find_entry(connection: Connection, reference: str) -> RowMapping:
    """The audit row at a position (digits) or with an event id (a UUID)."""
    query = select(*raw_columns())
    if reference.isdigit():
        query = query.where(audit_log.c.position == int(reference))
        what = f"position {reference}"
    else:
        try:
            event_id = str(uuid.UUID(reference))
        except ValueError:
            raise EvidenceError(
                f"{reference[:80]!r} is neither a position (digits) nor an event id (a UUID)"
            ) from None
        query = query.where(audit_log.c.event_id == event_id)
        what = f"event {event_id}"
    row = connection.execute(query).mappings().first()
    if row is None:
        raise EvidenceError(f"no audit entry at {what}")
    return row


def displayed(row: RowMapping) -> dict[str, Any]:
    """The entry as the API and the CLI show it."""
    values = dict(row)
    values["payload"] = json.loads(values["payload"])
    values["anomalies"] = json.loads(values["anomalies"])
    values.pop("is_anomaly", None)
    entry: dict[str, Any] = AuditEntry.model_validate(values).model_dump(mode="json")
    return entry


def inclusion_document(connection: Connection, row: RowMapping) -> dict[str, Any]:
    """The inclusion proof of ``row`` in the latest checkpoint that covers it."""
    error, document = checked_document(row)
    if error is not None or document is None:
        raise EvidenceError(
            f"the entry at position {row['position']} does not match its own hash "
            f"({error}); run verify-log before giving evidence of it"
        )
    topic, partition, index = row["kafka_topic"], row["kafka_partition"], row["leaf_index"]
    checkpoint = checkpoints.covering(connection, topic, partition, index)
    if checkpoint is None:
        raise NotCoveredError(
            f"no signed checkpoint covers entry {index} of {topic}[{partition}] yet; a "
            "projector given --signing-key makes one every few thousand entries and when it "
            "stops"
        )
    line = checkpoint.log(topic, partition)
    assert line is not None
    log_id = nodes.log_id_of(connection, (topic, partition))
    if log_id is None:
        raise EvidenceError(f"{topic}[{partition}] has no Merkle log")
    try:
        path = nodes.inclusion_proof(connection, log_id, index, line.size)
    except (ProofError, nodes.MissingNodeError) as exc:
        raise EvidenceError(f"the Merkle log cannot prove entry {index}: {exc}") from None
    return {
        "format": INCLUSION_FORMAT,
        "entry": displayed(row),
        "document": document.decode(),
        "log": {"topic": topic, "partition": partition},
        "leafIndex": index,
        "treeSize": line.size,
        "leafHash": leaf_hash(document).hex(),
        "auditPath": [element.hex() for element in path],
        "checkpoint": checkpoint.document(),
    }


def consistency_document(
    connection: Connection, topic: str, partition: int, first: int, second: int
) -> dict[str, Any]:
    """The proof that the first ``first`` entries of a partition's log are a prefix of its
    first ``second``, with the checkpoints that signed those sizes."""
    if not 0 < first <= second:
        raise EvidenceError(f"a consistency proof needs 0 < first <= second, not {first}, {second}")
    log_id = nodes.log_id_of(connection, (topic, partition))
    if log_id is None:
        raise EvidenceError(f"{topic}[{partition}] has no Merkle log")
    try:
        proof = nodes.consistency_proof(connection, log_id, first, second)
        first_root = nodes.root_at(connection, log_id, first)
        second_root = nodes.root_at(connection, log_id, second)
    except (ProofError, nodes.MissingNodeError) as exc:
        raise EvidenceError(
            f"{topic}[{partition}] cannot prove {first} -> {second} entries: {exc}"
        ) from None
    return {
        "format": CONSISTENCY_FORMAT,
        "log": {"topic": topic, "partition": partition},
        "firstSize": first,
        "secondSize": second,
        "firstRoot": first_root.hex(),
        "secondRoot": second_root.hex(),
        "proof": [element.hex() for element in proof],
        "checkpoints": [
            found.document()
            for size in (first, second)
            if (found := _signed_at(connection, topic, partition, size)) is not None
        ],
    }


def _signed_at(
    connection: Connection, topic: str, partition: int, size: int
) -> checkpoints.Checkpoint | None:
    query = (
        select(checkpoint_logs.c.checkpoint_id)
        .where(
            checkpoint_logs.c.topic == topic,
            checkpoint_logs.c.partition == partition,
            checkpoint_logs.c.size == size,
        )
        .order_by(checkpoint_logs.c.checkpoint_id.desc())
        .limit(1)
    )
    checkpoint_id = connection.scalar(query)
    if checkpoint_id is None:
        return None
    for found in checkpoints.stored(connection):
        if isinstance(found, checkpoints.Checkpoint) and found.checkpoint_id == checkpoint_id:
            return found
    return None
