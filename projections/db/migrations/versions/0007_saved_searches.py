"""Search and console: saved_searches, log_verifications, client and correlation indexes.

``saved_searches`` keeps named queries of the search language; ``log_verifications`` the
outcome of each ``verify-log`` run (the console's integrity page shows the latest); the two
indexes on ``audit_log`` let ``client:`` and ``correlation:`` searches find their entries
without walking the whole log.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUDIT_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_audit_log_client_occurred", ("client_id", "occurred_at")),
    ("ix_audit_log_correlation_occurred", ("correlation_id", "occurred_at")),
)


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_saved_searches"),
    )
    op.create_table(
        "log_verifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("checked_at", _instant(), nullable=False),
        sa.Column("against_kafka", sa.Boolean(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("broken", sa.Integer(), nullable=False),
        sa.Column("verdicts", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_verifications"),
    )
    for name, columns in _AUDIT_INDEXES:
        op.create_index(name, "audit_log", list(columns))


def downgrade() -> None:
    for name, _columns in reversed(_AUDIT_INDEXES):
        op.drop_index(name, table_name="audit_log")
    op.drop_table("log_verifications")
    op.drop_table("saved_searches")
