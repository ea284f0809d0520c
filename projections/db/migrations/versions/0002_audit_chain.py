"""Audit chain: previous_hash and chain_hash on audit_log, audit_chain_heads; existing rows hashed.

Rows already recorded are chained here, partition by partition in offset order, exactly as
the store chains new rows (see ``projections.chain.hashing``), so an upgraded database verifies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-05 00:00:00+00:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 5_000
"""Rows read and updated per statement while hashing existing rows."""

GENESIS_HASH = "0" * 64
"""The previous hash of a partition's first row."""

INSTANT_FIELDS = frozenset(
    {"occurredAt", "recordedAt", "createdAt", "updatedAt", "lastUsedAt", "expiresTime",
     "deletedAt", "usedAt"}
)
"""The record fields of the v1 contract that hold timestamp-micros instants (at any depth)."""


def _instant_text(value: str) -> str:
    """A stored instant as the chain's text: UTC, six fractional digits, ``Z``."""
    instant = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return instant.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _canonical(value: Any, name: str | None = None) -> Any:
    """The stored JSON value as the v1 chain hashed it: null members left out, instants
    in canonical text, everything else as stored."""
    if isinstance(value, dict):
        return {
            key: _canonical(member, key) for key, member in value.items() if member is not None
        }
    if isinstance(value, list):
        return [_canonical(member) for member in value]
    if name in INSTANT_FIELDS and isinstance(value, str):
        return _instant_text(value)
    return value


def chain_hash(
    previous_hash: str, payload: dict[str, Any], topic: str, partition: int, offset: int
) -> str:
    """``hex(SHA-256(bytes.fromhex(previous_hash) || canonical JSON document))`` of the v1
    chain, the document being ``{"event", "offset", "partition", "topic"}`` with sorted keys."""
    document = {
        "event": _canonical(payload),
        "offset": offset,
        "partition": partition,
        "topic": topic,
    }
    encoded = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(bytes.fromhex(previous_hash) + encoded).hexdigest()

_audit = sa.table(
    "audit_log",
    sa.column("position", sa.BigInteger()),
    sa.column("payload", sa.JSON()),
    sa.column("kafka_topic", sa.Text()),
    sa.column("kafka_partition", sa.Integer()),
    sa.column("kafka_offset", sa.BigInteger()),
    sa.column("previous_hash", sa.String()),
    sa.column("chain_hash", sa.String()),
)

_heads = sa.table(
    "audit_chain_heads",
    sa.column("topic", sa.Text()),
    sa.column("partition", sa.Integer()),
    sa.column("last_offset", sa.BigInteger()),
    sa.column("chain_hash", sa.String()),
    sa.column("length", sa.BigInteger()),
)


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("previous_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("chain_hash", sa.String(64), nullable=True))
    op.create_table(
        "audit_chain_heads",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("last_offset", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition", name="pk_audit_chain_heads"),
    )
    connection = op.get_bind()
    partitions = connection.execute(
        sa.select(_audit.c.kafka_topic, _audit.c.kafka_partition)
        .distinct()
        .order_by(_audit.c.kafka_topic, _audit.c.kafka_partition)
    ).all()
    for topic, partition in partitions:
        _hash_partition(connection, topic, partition)
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("previous_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("chain_hash", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    op.drop_table("audit_chain_heads")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("chain_hash")
        batch.drop_column("previous_hash")


def _hash_partition(connection: sa.Connection, topic: str, partition: int) -> None:
    """Chain one partition's rows in offset order and record its head."""
    previous, last_offset, length = GENESIS_HASH, -1, 0
    update = (
        sa.update(_audit)
        .where(_audit.c.position == sa.bindparam("b_position"))
        .values(previous_hash=sa.bindparam("b_previous"), chain_hash=sa.bindparam("b_chain"))
    )
    while True:
        page = _page(connection, topic, partition, last_offset)
        if not page:
            break
        changes: list[dict[str, Any]] = []
        for position, payload, offset in page:
            current = chain_hash(previous, payload, topic, partition, offset)
            changes.append({"b_position": position, "b_previous": previous, "b_chain": current})
            previous, last_offset, length = current, offset, length + 1
        connection.execute(update, changes)
    connection.execute(
        sa.insert(_heads).values(
            topic=topic,
            partition=partition,
            last_offset=last_offset,
            chain_hash=previous,
            length=length,
        )
    )


def _page(connection: sa.Connection, topic: str, partition: int, after: int) -> list[Any]:
    """The next rows of a partition in offset order (offsets are unique per partition)."""
    query = (
        sa.select(_audit.c.position, _audit.c.payload, _audit.c.kafka_offset)
        .where(
            _audit.c.kafka_topic == topic,
            _audit.c.kafka_partition == partition,
            _audit.c.kafka_offset > after,
        )
        .order_by(_audit.c.kafka_offset)
        .limit(PAGE)
    )
    return list(connection.execute(query))
