"""Answering a search: one keyset page of the audit entries a search filter selects."""

from __future__ import annotations

from sqlalchemy import Connection

from projections.db.backends import backend_of
from projections.queries.audit_pages import audit_page
from projections.queries.pagination import AuditPageRequest, Page
from projections.queries.rows import AuditEntry
from projections.queries.search.conditions import search_conditions
from projections.queries.search.model import SearchFilter


def search(
    connection: Connection, query: SearchFilter, page: AuditPageRequest
) -> Page[AuditEntry]:
    """One page of the entries ``query`` selects, in the order the page request says (make
    it with :func:`search_page_request`, which takes the order from the query)."""
    conditions, keep = search_conditions(query, backend_of(connection))
    return audit_page(connection, conditions, page, keep)


def search_page_request(
    query: SearchFilter, limit: int, cursor: str | None = None
) -> AuditPageRequest:
    """The page request of a search: ``limit`` entries past ``cursor``, in the query's order.

    Raises pydantic.ValidationError (at ``limit`` or ``cursor``) for an invalid request.
    """
    return AuditPageRequest.model_validate(
        {"limit": limit, "newestFirst": query.newest_first, "cursor": cursor}
    )
