"""Uses of credentials: from an address or network, allowed or denied, with the reason."""

from __future__ import annotations

from functools import partial

from sqlalchemy import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement

from projections.queries import networks
from projections.queries.audit_pages import Keep, audit_page, in_window
from projections.queries.filters import UsesFilter
from projections.queries.pagination import AuditPageRequest, Page
from projections.queries.rows import AuditEntry
from projections.tables import audit_log
from schemas.models import EventType


def _source_in(network: str, row: RowMapping) -> bool:
    return networks.contains(network, row["source_ip"])


def uses_conditions(
    query: UsesFilter, dialect: str
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
        if dialect == "postgresql":
            conditions.append(networks.postgresql_condition(audit_log.c.source_ip, query.network))
        else:
            conditions.append(networks.text_prefix_condition(audit_log.c.source_ip, query.network))
            keep = partial(_source_in, query.network)
    return conditions, keep


def uses(connection: Connection, query: UsesFilter, page: AuditPageRequest) -> Page[AuditEntry]:
    """One page of the uses matching ``query``, in position order."""
    conditions, keep = uses_conditions(query, connection.dialect.name)
    return audit_page(connection, conditions, page, keep)
