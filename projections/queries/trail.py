"""The audit trail of a credential, an owner or an actor, optionally of some event types."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from projections.db.tables import audit_log
from projections.queries.audit_pages import audit_page, in_window
from projections.queries.filters import TrailFilter
from projections.queries.pagination import AuditPageRequest, Page
from projections.queries.rows import AuditEntry


def trail_conditions(query: TrailFilter) -> list[ColumnElement[bool]]:
    """The SQL conditions of a trail filter."""
    conditions = in_window(audit_log.c.occurred_at, query)
    if query.credential_id is not None:
        conditions.append(audit_log.c.credential_id == query.credential_id)
    if query.user_id is not None:
        conditions.append(audit_log.c.user_id == query.user_id)
    if query.actor_id is not None:
        conditions.append(audit_log.c.actor_id == query.actor_id)
    if query.event_types:
        conditions.append(audit_log.c.event_type.in_([kind.value for kind in query.event_types]))
    return conditions


def audit_trail(
    connection: Connection, query: TrailFilter, page: AuditPageRequest
) -> Page[AuditEntry]:
    """One page of the audit entries matching ``query``, in position order."""
    return audit_page(connection, trail_conditions(query), page)
