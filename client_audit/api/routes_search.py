"""Routes of the search language: one query string over the audit log, and saved searches."""

from __future__ import annotations

from typing import Annotated

import pydantic
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from client_audit.api.auth import require_token
from client_audit.api.database import ReadOnlyConnection
from client_audit.api.errors import ERROR_RESPONSES, InvalidQueryError
from client_audit.api.models import AuditEntriesPage, SavedSearchesBody, json_body
from client_audit.api.params import Cursor, Limit
from projections.queries import DEFAULT_LIMIT, AuditPageRequest
from projections.queries.problems import problems_of
from projections.queries.saved_searches import list_saved_searches
from projections.queries.search import (
    MAX_QUERY_LENGTH,
    SearchError,
    SearchFilter,
    parse_search,
    search,
    search_page_request,
)

router = APIRouter(
    prefix="/v1",
    tags=["search"],
    dependencies=[Depends(require_token)],
    responses=ERROR_RESPONSES,
)

QUERY_DESCRIPTION = """\
A search query: `credential:ID user:ID client:ID actor:ID correlation:ID type:USED
outcome:DENIED reason:EXPIRED anomaly:KIND|any ip:ADDR network:CIDR role:R after:INSTANT
before:INSTANT sort:newest|oldest` and free words (matched against display names). `-`
negates a term, a repeated qualifier is an OR, values may be "double-quoted". Empty: every
entry."""

SearchQuery = Annotated[
    str, Query(alias="q", max_length=MAX_QUERY_LENGTH, description=QUERY_DESCRIPTION)
]


def parsed_search(q: SearchQuery = "") -> SearchFilter:
    """The parsed query; a 422 naming each offending term and its column."""
    try:
        return parse_search(q)
    except SearchError as exc:
        raise InvalidQueryError(exc.problems) from None


def search_page(
    query: Annotated[SearchFilter, Depends(parsed_search)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AuditPageRequest:
    """The page request in the query's order (a cursor continues only its own order)."""
    try:
        return search_page_request(query, limit, cursor)
    except pydantic.ValidationError as exc:
        raise InvalidQueryError(problems_of(exc)) from None


@router.get("/search", summary="Search the audit log with one query string",
            response_model=AuditEntriesPage)
def search_entries(
    query: Annotated[SearchFilter, Depends(parsed_search)],
    page: Annotated[AuditPageRequest, Depends(search_page)],
    connection: ReadOnlyConnection,
) -> Response:
    """Audit entries the query selects, newest first unless `sort:oldest`; the same language
    as `client-audit search` and the console. Pages are walked with `nextCursor`."""
    return json_body(AuditEntriesPage.of(search(connection, query, page)))


@router.get("/searches", summary="Saved searches")
def saved_searches(connection: ReadOnlyConnection) -> SavedSearchesBody:
    """The searches saved with `client-audit searches save`, by name."""
    return SavedSearchesBody(searches=list_saved_searches(connection))
