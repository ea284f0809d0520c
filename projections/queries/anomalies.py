"""Anomalies in a window: audit entries flagged with any, or some, anomaly kinds."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from projections.db.backends import Backend, backend_of
from projections.db.tables import audit_log
from projections.queries.audit_pages import audit_page, in_window
from projections.queries.filters import AnomalyFilter
from projections.queries.pagination import AuditPageRequest, Page
from projections.queries.rows import AuditEntry


def anomaly_conditions(query: AnomalyFilter, backend: Backend) -> list[ColumnElement[bool]]:
    """The SQL conditions of an anomaly filter."""
    conditions = in_window(audit_log.c.occurred_at, query)
    conditions.append(audit_log.c.is_anomaly.is_(True))
    if query.kinds:
        kinds = [kind.value for kind in query.kinds]
        conditions.append(backend.contains_any(audit_log.c.anomalies, kinds))
    if query.credential_id is not None:
        conditions.append(audit_log.c.credential_id == query.credential_id)
    if query.user_id is not None:
        conditions.append(audit_log.c.user_id == query.user_id)
    return conditions


def anomalies(
    connection: Connection, query: AnomalyFilter, page: AuditPageRequest
) -> Page[AuditEntry]:
    """One page of the flagged entries matching ``query``, in position order."""
    return audit_page(connection, anomaly_conditions(query, backend_of(connection)), page)
