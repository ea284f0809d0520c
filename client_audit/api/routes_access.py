"""The access log over HTTP: who asked what (administration scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from client_audit.api.access_record import Recorded
from client_audit.api.database import ReadOnlyConnection
from client_audit.api.errors import ERROR_RESPONSES, build
from client_audit.api.models import AccessLogPage
from client_audit.api.params import Cursor, From, Limit, To
from client_audit.api.scopes import requires
from projections.model.access import Scope
from projections.queries import (
    DEFAULT_LIMIT,
    AccessFilter,
    AccessPageRequest,
    access_entries,
)
from projections.queries.values import MAX_TEXT_LENGTH

router = APIRouter(
    prefix="/v1",
    tags=["access log"],
    dependencies=[requires(Scope.ADMIN)],
    responses=ERROR_RESPONSES,
)


def access_filter(
    start: From = None,
    end: To = None,
    token: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_TEXT_LENGTH,
              description="Only requests made with this token name (env:1 for the first "
                          "environment token)."),
    ] = None,
    route: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_TEXT_LENGTH,
              description="Only requests to this route template (e.g. /v1/trail)."),
    ] = None,
    statuses: Annotated[
        list[int] | None,
        Query(alias="status", description="Only requests answered with these statuses "
                                          "(repeat the parameter)."),
    ] = None,
) -> AccessFilter:
    return build(AccessFilter, {
        "from": start, "to": end, "token": token, "route": route, "status": statuses,
    })


def access_page_request(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> AccessPageRequest:
    return build(AccessPageRequest, {"limit": limit, "cursor": cursor})


@router.get("/access", summary="The access log: every request to the API and console")
def access_log(
    query: Annotated[AccessFilter, Depends(access_filter)],
    page: Annotated[AccessPageRequest, Depends(access_page_request)],
    connection: ReadOnlyConnection,
    record: Recorded,
) -> AccessLogPage:
    """Recorded requests in position order: token name, route template, parameters
    (secret-looking values redacted), rows returned, status, client address and the
    request's link in the access chain. ``from``/``to`` bound the request instant. A
    request is recorded as its response starts, so this one is not in its own answer."""
    return AccessLogPage.of(access_entries(connection, query, page), record)
