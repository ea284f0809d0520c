"""Bulk replay: ``bulk_loads``, the marker of a bulk replay that has not finished.

A bulk replay (``client-audit replay --into`` a fresh database) writes its marker row
first and deletes it last, with the credential states, chain heads and consumer positions
it holds in memory until then; a database that still has a marker row is half built and is
refused by ``replay --resume``. On PostgreSQL, where the role exists, the read-only role
``client_audit_reader`` may read it, as it may read every other table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER_ROLE = "client_audit_reader"


def upgrade() -> None:
    op.create_table(
        "bulk_loads",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic", name="pk_bulk_loads"),
    )
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _grant_reader(connection)


def downgrade() -> None:
    op.drop_table("bulk_loads")


def _grant_reader(connection: sa.Connection) -> None:
    """SELECT on ``bulk_loads`` for the reader role in the current schema, if it exists."""
    exists = connection.execute(
        sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": READER_ROLE}
    ).first()
    if exists is None:
        return
    quote = connection.dialect.identifier_preparer.quote
    schema = quote(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
    connection.execute(sa.text(f"GRANT SELECT ON {schema}.bulk_loads TO {quote(READER_ROLE)}"))
