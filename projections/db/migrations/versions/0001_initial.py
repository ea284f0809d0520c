"""Initial schema: credentials, audit_log, consumer_positions.

Revision ID: 0001
Revises:
Create Date: 2026-03-03 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("credential_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("scoped_roles", _json(), nullable=False),
        sa.Column("allow_source_cidr", _json(), nullable=False),
        sa.Column("created_at", _instant(), nullable=True),
        sa.Column("updated_at", _instant(), nullable=True),
        sa.Column("last_used_at", _instant(), nullable=True),
        sa.Column("expires_time", _instant(), nullable=True),
        sa.Column("deleted_at", _instant(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.String(36), nullable=False),
        sa.Column("last_event_type", sa.String(16), nullable=False),
        sa.Column("last_changed_at", _instant(), nullable=False),
        sa.Column("created_event_id", sa.String(36), nullable=True),
        sa.Column("seen_source_ips", _json(), nullable=False),
        sa.Column("anomaly_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("credential_id", name="pk_credentials"),
        sa.CheckConstraint(
            "status IN ('active', 'expired', 'deleted')", name="ck_credentials_status"
        ),
    )
    op.create_index("ix_credentials_user_id", "credentials", ["user_id"])
    op.create_index("ix_credentials_status", "credentials", ["status"])
    op.create_index("ix_credentials_expires_time", "credentials", ["expires_time"])

    op.create_table(
        "audit_log",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("credential_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("occurred_at", _instant(), nullable=False),
        sa.Column("recorded_at", _instant(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("source_ip", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("denial_reason", sa.String(32), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("anomalies", _json(), nullable=False),
        sa.Column("is_anomaly", sa.Boolean(), nullable=False),
        sa.Column("kafka_topic", sa.Text(), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("projected_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_audit_log"),
        sa.UniqueConstraint("event_id", name="uq_audit_log_event_id"),
        sa.UniqueConstraint(
            "kafka_topic", "kafka_partition", "kafka_offset", name="uq_audit_log_kafka_position"
        ),
    )
    for name, columns in _AUDIT_INDEXES:
        op.create_index(name, "audit_log", list(columns))

    op.create_table(
        "consumer_positions",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition", name="pk_consumer_positions"),
    )


def downgrade() -> None:
    op.drop_table("consumer_positions")
    for name, _columns in reversed(_AUDIT_INDEXES):
        op.drop_index(name, table_name="audit_log")
    op.drop_table("audit_log")
    for name in ("ix_credentials_expires_time", "ix_credentials_status", "ix_credentials_user_id"):
        op.drop_index(name, table_name="credentials")
    op.drop_table("credentials")


_AUDIT_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_audit_log_credential_occurred", ("credential_id", "occurred_at")),
    ("ix_audit_log_user_occurred", ("user_id", "occurred_at")),
    ("ix_audit_log_event_type_occurred", ("event_type", "occurred_at")),
    ("ix_audit_log_source_ip_occurred", ("source_ip", "occurred_at")),
    ("ix_audit_log_actor_occurred", ("actor_id", "occurred_at")),
    ("ix_audit_log_anomaly_occurred", ("is_anomaly", "occurred_at")),
    ("ix_audit_log_credential_sequence", ("credential_id", "sequence")),
)
