"""Access: the API's bearer tokens (hashes and scopes), its hash-chained access log, and the
grants of the least-privilege roles.

- ``api_tokens``: one row per named token: the SHA-256 of the token, never the token.
- ``access_log``: one row per API or console request, positions 1, 2, 3 ...; each row's
  ``chain_hash`` links it to the row before it; ``access_chain_head`` holds the chain's end,
  created here empty (genesis hash, length 0).
- On PostgreSQL, where the roles exist (``python -m devservices`` and docker-compose create
  them): ``client_audit_reader`` may read every table of the schema, nothing else;
  ``client_audit_access`` (the API's access-log writer) may append to ``access_log``, move
  the chain head and set a token's ``last_used_at``, nothing else — it can neither read
  the audit log nor rewrite an access row.

The grant statements are a frozen copy of what this revision runs; docs in the README
("Database roles") repeat them for roles with other names.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
ACCESS_CHAIN = "access"
READER_ROLE = "client_audit_reader"
ACCESS_WRITER_ROLE = "client_audit_access"

READER_GRANTS = (
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
)
ACCESS_WRITER_GRANTS = (
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "GRANT INSERT ON {schema}.access_log TO {role}",
    "GRANT SELECT, UPDATE ON {schema}.access_chain_head TO {role}",
    "GRANT SELECT (name, last_used_at), UPDATE (last_used_at) ON {schema}.api_tokens TO {role}",
)


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("scopes", _json(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("expires_at", _instant(), nullable=True),
        sa.Column("revoked_at", _instant(), nullable=True),
        sa.Column("last_used_at", _instant(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "access_log",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", _instant(), nullable=False),
        sa.Column("token_name", sa.Text(), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("parameters", _json(), nullable=False),
        sa.Column("rows_returned", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("client_address", sa.Text(), nullable=True),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_access_log"),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_token_name_at", "access_log", ["token_name", "at"])
    heads = op.create_table(
        "access_chain_head",
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain", name="pk_access_chain_head"),
    )
    op.bulk_insert(
        heads, [{"chain": ACCESS_CHAIN, "last_position": 0, "chain_hash": GENESIS_HASH,
                 "length": 0}],
    )
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _grant(connection, READER_ROLE, READER_GRANTS)
        _grant(connection, ACCESS_WRITER_ROLE, ACCESS_WRITER_GRANTS)


def downgrade() -> None:
    op.drop_table("access_chain_head")
    op.drop_index("ix_access_log_token_name_at", table_name="access_log")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_table("access_log")
    op.drop_table("api_tokens")


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
