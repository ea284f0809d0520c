"""Uses of credentials: from an address or network, allowed or denied, with the reason."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from projections.db.backends import Backend, Keep, backend_of
from projections.db.tables import audit_log
from projections.queries.audit_pages import audit_page, in_window
from projections.queries.filters import UsesFilter
from projections.queries.pagination import AuditPageRequest, Page
from projections.queries.rows import AuditEntry
from schemas.models import EventType


def uses_conditions(
    query: UsesFilter, backend: Backend
) -> tuple[list[ColumnElement[bool]], Keep | None]:
    """The SQL conditions of a uses filter, and the exact Python check SQL leaves over."""
    conditions = in_window(audit_log.c.occurred_at, query)
    conditions.append(audit_log.c.event_type == EventType.USED.value)
    if query.credential_id is not None:
        conditions.append(audit_log.c.credential_id == query.credential_id)
    if query.user_id is not None:
        conditions.append(audit_log.c.user_id == query.user_id)
    if query.outcome is not None:
        conditions.append(audit_log.c.outcome == query.outcome.value)
    if query.denial_reasons:
        conditions.append(
            audit_log.c.denial_reason.in_([reason.value for reason in query.denial_reasons])
        )
    keep: Keep | None = None
    if query.network is not None:
        within, keep = backend.address_in_network(audit_log.c.source_ip, query.network)
        conditions.append(within)
    return conditions, keep


def uses(connection: Connection, query: UsesFilter, page: AuditPageRequest) -> Page[AuditEntry]:
    """One page of the uses matching ``query``, in position order."""
    conditions, keep = uses_conditions(query, backend_of(connection))
    return audit_page(connection, conditions, page, keep)
