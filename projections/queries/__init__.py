"""The read side: every question a security team asks of the projections, answered once.

Each question is one function of a SQLAlchemy connection, a validated filter and a page
request, returning one :class:`~projections.queries.pagination.Page` of typed rows. The
command line and the HTTP API both call these functions; neither builds SQL of its own.
"""

from projections.queries.access import access_entries
from projections.queries.anomalies import anomalies
from projections.queries.credentials import credential_state, list_credentials
from projections.queries.cursors import AccessCursor, AuditCursor, CredentialCursor
from projections.queries.filters import (
    AccessFilter,
    AnomalyFilter,
    CredentialFilter,
    TrailFilter,
    UsesFilter,
)
from projections.queries.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AccessPageRequest,
    AuditPageRequest,
    CredentialPageRequest,
    Page,
    walk,
)
from projections.queries.rows import AccessLogEntry, AuditEntry, CredentialRecord
from projections.queries.trail import audit_trail
from projections.queries.uses import uses

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "AccessCursor",
    "AccessFilter",
    "AccessLogEntry",
    "AccessPageRequest",
    "AnomalyFilter",
    "AuditCursor",
    "AuditEntry",
    "AuditPageRequest",
    "CredentialCursor",
    "CredentialFilter",
    "CredentialPageRequest",
    "CredentialRecord",
    "Page",
    "TrailFilter",
    "UsesFilter",
    "access_entries",
    "anomalies",
    "audit_trail",
    "credential_state",
    "list_credentials",
    "uses",
    "walk",
]
