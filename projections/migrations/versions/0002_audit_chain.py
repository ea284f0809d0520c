"""Audit chain: previous_hash and chain_hash on audit_log, audit_chain_heads; existing rows hashed.

Rows already recorded are chained here, partition by partition in offset order, exactly as
the store chains new rows (see ``projections.chain``), so an upgraded database verifies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-05 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from projections.chain import GENESIS_HASH, chain_hash
from projections.rows import event_from_payload

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 5_000
"""Rows read and updated per statement while hashing existing rows."""

_audit = sa.table(
    "audit_log",
    sa.column("position", sa.BigInteger()),
    sa.column("event_type", sa.String()),
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
        for position, event_type, payload, offset in page:
            event = event_from_payload(event_type, payload)
            current = chain_hash(previous, event, topic, partition, offset)
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
        sa.select(_audit.c.position, _audit.c.event_type, _audit.c.payload, _audit.c.kafka_offset)
        .where(
            _audit.c.kafka_topic == topic,
            _audit.c.kafka_partition == partition,
            _audit.c.kafka_offset > after,
        )
        .order_by(_audit.c.kafka_offset)
        .limit(PAGE)
    )
    return list(connection.execute(query))
