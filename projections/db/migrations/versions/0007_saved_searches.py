"""Search and console: saved_searches, log_verifications, client and correlation indexes.

``saved_searches`` keeps named queries of the search language; ``log_verifications`` the
outcome of each ``verify-log`` run (the console's integrity page shows the latest); the two
indexes on ``audit_log`` let ``client:`` and ``correlation:`` searches find their entries
without walking the whole log. On PostgreSQL, where the role exists, the read-only role
``client_audit_reader`` may read the two new tables, as revision 0006 let it read every
table there was (the access-log writer gets nothing here).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER_ROLE = "client_audit_reader"

READER_GRANTS = (
    "GRANT SELECT ON {schema}.saved_searches, {schema}.log_verifications TO {role}",
)

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
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _grant(connection, READER_ROLE, READER_GRANTS)


def downgrade() -> None:
    for name, _columns in reversed(_AUDIT_INDEXES):
        op.drop_index(name, table_name="audit_log")
    op.drop_table("log_verifications")
    op.drop_table("saved_searches")


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
