"""Credentials: listed by owner, status, role, expiry and last use; or one by id."""

from __future__ import annotations

from sqlalchemy import Connection, or_, select
from sqlalchemy.sql.elements import ColumnElement

from projections.db.backends import Backend, backend_of
from projections.db.tables import credentials
from projections.queries.audit_pages import in_window
from projections.queries.cursors import CredentialCursor
from projections.queries.filters import CredentialFilter
from projections.queries.pagination import CredentialPageRequest, Page
from projections.queries.rows import CredentialRecord


def credential_conditions(
    query: CredentialFilter, backend: Backend
) -> list[ColumnElement[bool]]:
    """The SQL conditions of a credential filter."""
    conditions = in_window(credentials.c.created_at, query)
    if query.credential_id is not None:
        conditions.append(credentials.c.credential_id == query.credential_id)
    if query.user_id is not None:
        conditions.append(credentials.c.user_id == query.user_id)
    if query.status is not None:
        conditions.append(credentials.c.status == query.status.value)
    if query.role is not None:
        conditions.append(backend.contains_any(credentials.c.scoped_roles, [query.role]))
    if query.expiring_before is not None:
        conditions.append(credentials.c.expires_time < query.expiring_before)
    if query.unused_since is not None:
        conditions.append(
            or_(
                credentials.c.last_used_at.is_(None),
                credentials.c.last_used_at < query.unused_since,
            )
        )
    return conditions


def list_credentials(
    connection: Connection, query: CredentialFilter, page: CredentialPageRequest
) -> Page[CredentialRecord]:
    """One page of the credentials matching ``query``, in credential id order."""
    conditions = credential_conditions(query, backend_of(connection))
    if page.cursor is not None:
        conditions.append(credentials.c.credential_id > page.cursor.after)
    statement = (
        select(credentials)
        .where(*conditions)
        .order_by(credentials.c.credential_id)
        .limit(page.limit + 1)
    )
    found = [CredentialRecord.from_row(row) for row in connection.execute(statement).mappings()]
    if len(found) <= page.limit:
        return Page(tuple(found), None)
    shown = tuple(found[: page.limit])
    return Page(shown, CredentialCursor(after=shown[-1].credential_id).encode())


def credential_state(connection: Connection, credential_id: str) -> CredentialRecord | None:
    """The current state of one credential; None if no event of it was projected."""
    statement = select(credentials).where(credentials.c.credential_id == credential_id)
    row = connection.execute(statement).mappings().first()
    return None if row is None else CredentialRecord.from_row(row)
