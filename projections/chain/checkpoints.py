"""Signed checkpoints: the size and root of every Merkle log at an instant, signed.

A checkpoint's **body** is the RFC 8785 text (UTF-8) of::

    {"format": "client-audit/checkpoint/v1", "keyId": "<16 hex>",
     "logs": [{"partition": <int>, "root": "<64 hex>", "size": <int>, "topic": "<str>"}, ...],
     "time": "YYYY-MM-DDTHH:MM:SS.ffffffZ"}

(logs sorted by topic, then partition), and its **signature** is the Ed25519 signature of
the body bytes by the key ``keyId`` names (:mod:`projections.chain.signing`). The body says:
at ``time``, the first ``size`` entries of each partition's log (offset order) had Merkle
root ``root``. Checkpoints are stored in the database (``checkpoints``, with a copy of each
log's line in ``checkpoint_logs``) and published by the projector.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from projections.chain.hashing import instant_text
from projections.chain.heads import all_heads
from projections.chain.signing import SigningKey, public_pem
from projections.db.backends import backend_of
from projections.db.tables import checkpoint_logs, checkpoints, signing_keys

CHECKPOINT_FORMAT = "client-audit/checkpoint/v1"


class CheckpointFormatError(ValueError):
    """A checkpoint body or signature that is not of the documented form."""


@dataclass(frozen=True, slots=True)
class LogHead:
    """What a checkpoint says of one partition's log."""

    topic: str
    partition: int
    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed checkpoint: its body (the signed bytes), what the body says, and the
    signature. ``checkpoint_id`` is its row in the store (0 before it is stored)."""

    body: bytes
    signature: bytes
    time: datetime
    key_id: str
    logs: tuple[LogHead, ...]
    checkpoint_id: int = 0

    def log(self, topic: str, partition: int) -> LogHead | None:
        return next(
            (head for head in self.logs if (head.topic, head.partition) == (topic, partition)),
            None,
        )

    def document(self) -> dict[str, Any]:
        """The checkpoint as a JSON object: the body text and the base64 signature."""
        return {"body": self.body.decode(), "signature": base64.b64encode(self.signature).decode()}


def body_of(time: datetime, key: str, logs: Iterable[LogHead]) -> bytes:
    document = {
        "format": CHECKPOINT_FORMAT,
        "keyId": key,
        "logs": [
            {"partition": head.partition, "root": head.root.hex(), "size": head.size,
             "topic": head.topic}
            for head in sorted(logs, key=lambda head: (head.topic, head.partition))
        ],
        "time": instant_text(time),
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def signed(key: SigningKey, time: datetime, logs: Iterable[LogHead]) -> Checkpoint:
    """A checkpoint of ``logs`` at ``time`` signed with ``key``."""
    heads = tuple(sorted(logs, key=lambda head: (head.topic, head.partition)))
    body = body_of(time, key.key_id, heads)
    return Checkpoint(body, key.sign(body), time, key.key_id, heads)


def parse(body: bytes, signature: bytes, checkpoint_id: int = 0) -> Checkpoint:
    """What a body says (its form checked; the signature is not verified here)."""
    try:
        document = json.loads(body)
        if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointFormatError(f"not a {CHECKPOINT_FORMAT} body")
        time = datetime.fromisoformat(str(document["time"]).replace("Z", "+00:00"))
        heads = tuple(
            LogHead(str(line["topic"]), int(line["partition"]), int(line["size"]),
                    bytes.fromhex(str(line["root"])))
            for line in document["logs"]
        )
        key = str(document["keyId"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointFormatError(f"the checkpoint body is malformed: {exc}") from None
    if time.tzinfo is None or any(len(head.root) != 32 or head.size < 0 for head in heads):
        raise CheckpointFormatError("the checkpoint body holds an invalid time, size or root")
    if body != body_of(time, key, heads):
        raise CheckpointFormatError("the checkpoint body is not in canonical form")
    return Checkpoint(body, signature, time.astimezone(UTC), key, heads, checkpoint_id)


def from_document(document: Any) -> Checkpoint:
    """A checkpoint from its JSON object (``body`` text, base64 ``signature``)."""
    try:
        body = str(document["body"]).encode()
        signature = base64.b64decode(str(document["signature"]), validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        raise CheckpointFormatError(f"not a checkpoint document: {exc}") from None
    return parse(body, signature)


def current_heads(connection: Connection, topic: str | None = None) -> list[LogHead]:
    """Every partition log's size and root now (of one topic, or all)."""
    return [
        LogHead(key_topic, partition, head.length, head.root)
        for (key_topic, partition), head in sorted(all_heads(connection).items())
        if topic is None or key_topic == topic
    ]


def store(connection: Connection, checkpoint: Checkpoint, key: SigningKey) -> int:
    """Store a checkpoint (and its key's public half, the first time); its id."""
    backend = backend_of(connection)
    connection.execute(
        backend.insert(signing_keys).on_conflict_do_nothing(),
        [{"key_id": key.key_id, "public_key": public_pem(key.public),
          "first_used_at": checkpoint.time}],
    )
    result = connection.execute(
        checkpoints.insert().values(
            made_at=checkpoint.time, key_id=checkpoint.key_id, body=checkpoint.body.decode(),
            signature=base64.b64encode(checkpoint.signature).decode(),
        )
    )
    inserted = result.inserted_primary_key
    if inserted is None:
        raise RuntimeError("the store did not report the new checkpoint's id")
    checkpoint_id = int(inserted[0])
    if checkpoint.logs:
        connection.execute(checkpoint_logs.insert(), [
            {"checkpoint_id": checkpoint_id, "topic": head.topic, "partition": head.partition,
             "size": head.size, "root": head.root.hex()}
            for head in checkpoint.logs
        ])
    return checkpoint_id


def stored(connection: Connection) -> list[Checkpoint | CheckpointFormatError]:
    """Every stored checkpoint in the order made (a malformed one as the error saying so)."""
    found: list[Checkpoint | CheckpointFormatError] = []
    query = select(checkpoints).order_by(checkpoints.c.checkpoint_id)
    for row in connection.execute(query):
        try:
            signature = base64.b64decode(row.signature, validate=True)
            found.append(parse(row.body.encode(), signature, row.checkpoint_id))
        except (CheckpointFormatError, binascii.Error) as exc:
            found.append(CheckpointFormatError(f"checkpoint {row.checkpoint_id}: {exc}"))
    return found


def covering(connection: Connection, topic: str, partition: int, index: int) -> Checkpoint | None:
    """The latest stored checkpoint whose log of the partition holds entry ``index``."""
    query = (
        select(checkpoints)
        .join(checkpoint_logs, checkpoint_logs.c.checkpoint_id == checkpoints.c.checkpoint_id)
        .where(checkpoint_logs.c.topic == topic, checkpoint_logs.c.partition == partition,
               checkpoint_logs.c.size > index)
        .order_by(checkpoints.c.checkpoint_id.desc())
        .limit(1)
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    return parse(row.body.encode(), base64.b64decode(row.signature), row.checkpoint_id)


def public_keys(connection: Connection) -> dict[str, str]:
    """Key id -> PEM public key of every key that signed a stored checkpoint."""
    query = select(signing_keys.c.key_id, signing_keys.c.public_key)
    return {key: pem for key, pem in connection.execute(query)}


def latest(connection: Connection) -> tuple[Checkpoint | CheckpointFormatError | None, int]:
    """The most recent stored checkpoint (None: none yet) and how many are stored."""
    count = int(connection.scalar(select(func.count()).select_from(checkpoints)) or 0)
    row = connection.execute(
        select(checkpoints).order_by(checkpoints.c.checkpoint_id.desc()).limit(1)
    ).first()
    if row is None:
        return None, count
    try:
        signature = base64.b64decode(row.signature, validate=True)
        return parse(row.body.encode(), signature, row.checkpoint_id), count
    except (CheckpointFormatError, binascii.Error) as exc:
        return CheckpointFormatError(f"checkpoint {row.checkpoint_id}: {exc}"), count
