"""Alerts: the outbox of flagged entries, deliveries to push targets and their attempts.

``alert_outbox`` is written in the projection's own transaction (one row per flagged audit
entry); the relay publishes its rows to the alert topic and makes one ``alert_deliveries``
row per webhook endpoint or SIEM output that takes the alert; each try is an
``alert_delivery_attempts`` row. On PostgreSQL, where the role exists, the read-only role
``client_audit_reader`` may read the three tables.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER_ROLE = "client_audit_reader"

READER_GRANTS = (
    "GRANT SELECT ON {schema}.alert_outbox, {schema}.alert_deliveries, "
    "{schema}.alert_delivery_attempts TO {role}",
)


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _serial() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("seq", _serial(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("credential_id", sa.Text(), nullable=False),
        sa.Column("kinds", _json(), nullable=False),
        sa.Column("silenced", sa.Text(), nullable=True),
        sa.Column("flagged_at", _instant(), nullable=False),
        sa.Column("kafka_topic", sa.Text(), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("published_at", _instant(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_alert_outbox"),
        sa.UniqueConstraint("alert_id", name="uq_alert_outbox_alert_id"),
    )
    op.create_index("ix_alert_outbox_published_seq", "alert_outbox", ["published_at", "seq"])
    op.create_table(
        "alert_deliveries",
        sa.Column("delivery_id", _serial(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("retrying_since", _instant(), nullable=False),
        sa.Column("next_attempt_at", _instant(), nullable=True),
        sa.Column("last_attempt_at", _instant(), nullable=True),
        sa.Column("delivered_at", _instant(), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_alert_deliveries_status"
        ),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_alert_deliveries"),
        sa.UniqueConstraint(
            "alert_id", "target", name="uq_alert_deliveries_alert_id_target"
        ),
    )
    op.create_index(
        "ix_alert_deliveries_status_next", "alert_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "alert_delivery_attempts",
        sa.Column("delivery_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", _instant(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", "attempt", name="pk_alert_delivery_attempts"),
    )
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _grant(connection, READER_ROLE, READER_GRANTS)


def downgrade() -> None:
    op.drop_table("alert_delivery_attempts")
    op.drop_index("ix_alert_deliveries_status_next", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alert_outbox_published_seq", table_name="alert_outbox")
    op.drop_table("alert_outbox")


def _grant(connection: sa.Connection, role: str, statements: Sequence[str]) -> None:
    """Run ``statements`` for ``role`` in the current schema, if the role exists."""
    exists = connection.execute(
        sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    if exists is None:
        return
    quote = connection.dialect.identifier_preparer.quote
    schema = quote(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
    for statement in statements:
        connection.execute(sa.text(statement.format(schema=schema, role=quote(role))))
