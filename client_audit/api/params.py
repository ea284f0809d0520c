"""Query parameters shared by the routes, and the page requests built from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query

from client_audit.api.errors import build
from projections.queries import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AuditPageRequest,
    CredentialPageRequest,
)
from projections.queries.cursors import MAX_CURSOR_LENGTH
from projections.queries.values import MAX_TEXT_LENGTH

From = Annotated[
    datetime | None,
    Query(
        alias="from",
        description="Inclusive start: an ISO-8601 instant with offset (Z, or %2B01:00 in a URL).",
    ),
]
To = Annotated[
    datetime | None,
    Query(alias="to", description="Exclusive end: an ISO-8601 instant with offset."),
]
CredentialId = Annotated[
    str | None,
    Query(alias="credentialId", min_length=1, max_length=MAX_TEXT_LENGTH,
          description="Only this credential (exact match)."),
]
UserId = Annotated[
    str | None,
    Query(alias="userId", min_length=1, max_length=MAX_TEXT_LENGTH,
          description="Only credentials of this owner (exact match)."),
]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page, 1 to {MAX_LIMIT}.")
]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_CURSOR_LENGTH,
          description="The nextCursor of the previous page (opaque)."),
]


def audit_page_request(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> AuditPageRequest:
    return build(AuditPageRequest, {"limit": limit, "cursor": cursor})


def credential_page_request(
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> CredentialPageRequest:
    return build(CredentialPageRequest, {"limit": limit, "cursor": cursor})
