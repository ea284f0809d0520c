"""Routes over credentials: listed by filters, one by id, and one credential's history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response
from sqlalchemy import Connection

from client_audit.api.auth import require_token
from client_audit.api.database import ReadOnlyConnection
from client_audit.api.errors import ERROR_RESPONSES, build
from client_audit.api.models import AuditEntriesPage, CredentialsPage, ErrorBody, json_body
from client_audit.api.params import (
    CredentialId,
    From,
    To,
    UserId,
    audit_page_request,
    credential_page_request,
)
from client_audit.api.routes_audit import EventTypes
from projections.model.credential import CredentialStatus
from projections.queries import (
    AuditPageRequest,
    CredentialFilter,
    CredentialPageRequest,
    CredentialRecord,
    TrailFilter,
    audit_trail,
    credential_state,
    list_credentials,
)
from projections.queries.values import MAX_TEXT_LENGTH

router = APIRouter(
    prefix="/v1",
    tags=["credentials"],
    dependencies=[Depends(require_token)],
    responses=ERROR_RESPONSES,
)

NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "No event of this credential was projected."}
}

CredentialIdPath = Annotated[
    str, Path(alias="credentialId", min_length=1, max_length=MAX_TEXT_LENGTH)
]


def credential_filter(
    start: From = None,
    end: To = None,
    credential_id: CredentialId = None,
    user_id: UserId = None,
    status: Annotated[CredentialStatus | None, Query(description="active, expired or deleted.")]
    = None,
    role: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_TEXT_LENGTH, description="Holds this scoped role."),
    ] = None,
    expiring_before: Annotated[
        datetime | None,
        Query(alias="expiringBefore", description="Expiry before this instant (with offset)."),
    ] = None,
    unused_since: Annotated[
        datetime | None,
        Query(alias="unusedSince",
              description="No allowed use at or after this instant (never used included)."),
    ] = None,
) -> CredentialFilter:
    return build(CredentialFilter, {
        "from": start, "to": end, "credentialId": credential_id, "userId": user_id,
        "status": status, "role": role, "expiringBefore": expiring_before,
        "unusedSince": unused_since,
    })


def _existing(connection: Connection, credential_id: str) -> CredentialRecord:
    subject = build(TrailFilter, {"credentialId": credential_id})
    assert subject.credential_id is not None
    record = credential_state(connection, subject.credential_id)
    if record is None:
        raise HTTPException(status_code=404, detail=f"no credential {credential_id!r} is known")
    return record


@router.get("/credentials", summary="Credentials by owner, status, role, expiry, last use",
            response_model=CredentialsPage)
def credentials_list(
    query: Annotated[CredentialFilter, Depends(credential_filter)],
    page: Annotated[CredentialPageRequest, Depends(credential_page_request)],
    connection: ReadOnlyConnection,
) -> Response:
    """Current states in credential id order; ``from``/``to`` bound the creation instant."""
    return json_body(CredentialsPage.of(list_credentials(connection, query, page)))


@router.get(
    "/credentials/{credentialId:path}/history",
    summary="One credential's full history",
    responses=NOT_FOUND,
    response_model=AuditEntriesPage,
)
def credential_history(
    credential_id: CredentialIdPath,
    page: Annotated[AuditPageRequest, Depends(audit_page_request)],
    connection: ReadOnlyConnection,
    start: From = None,
    end: To = None,
    event_types: EventTypes = None,
) -> Response:
    """Every audit entry of the credential in position order (optionally within a window)."""
    _existing(connection, credential_id)
    query = build(TrailFilter, {
        "credentialId": credential_id, "from": start, "to": end, "eventType": event_types,
    })
    return json_body(AuditEntriesPage.of(audit_trail(connection, query, page)))


@router.get(
    "/credentials/{credentialId:path}", summary="One credential's current state",
    responses=NOT_FOUND,
)
def credential(credential_id: CredentialIdPath, connection: ReadOnlyConnection) -> CredentialRecord:
    """The credential whose id is the rest of the path (percent-encoded; it may hold ``/``).
    An id that itself ends in ``/history`` is found with ``/v1/credentials?credentialId=``."""
    return _existing(connection, credential_id)
