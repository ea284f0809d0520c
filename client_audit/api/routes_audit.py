"""Routes over the audit log: trails, uses, denied uses, anomalies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from client_audit.api.auth import require_token
from client_audit.api.database import ReadOnlyConnection
from client_audit.api.errors import ERROR_RESPONSES, build
from client_audit.api.models import AuditEntriesPage, json_body
from client_audit.api.params import CredentialId, From, To, UserId, audit_page_request
from projections.model.anomalies import Anomaly
from projections.queries import (
    AnomalyFilter,
    AuditPageRequest,
    TrailFilter,
    UsesFilter,
    anomalies,
    audit_trail,
    uses,
)
from projections.queries.values import MAX_TEXT_LENGTH
from schemas.models import DenialReason, EventType, UseOutcome

router = APIRouter(
    prefix="/v1",
    tags=["audit log"],
    dependencies=[Depends(require_token)],
    responses=ERROR_RESPONSES,
)

AuditPage = Annotated[AuditPageRequest, Depends(audit_page_request)]
EventTypes = Annotated[
    list[EventType] | None,
    Query(alias="eventType", description="Only these event types (repeat the parameter)."),
]
Network = Annotated[
    str | None,
    Query(min_length=1, max_length=100,
          description="Only uses from this IPv4/IPv6 address or CIDR network."),
]
Reasons = Annotated[
    list[DenialReason] | None,
    Query(alias="reason", description="Only denials for these reasons (repeat the parameter)."),
]


def trail_filter(
    start: From = None,
    end: To = None,
    credential_id: CredentialId = None,
    user_id: UserId = None,
    actor_id: Annotated[
        str | None,
        Query(alias="actorId", min_length=1, max_length=MAX_TEXT_LENGTH,
              description="Only events caused by this actor id (user or system)."),
    ] = None,
    event_types: EventTypes = None,
) -> TrailFilter:
    return build(TrailFilter, {
        "from": start, "to": end, "credentialId": credential_id, "userId": user_id,
        "actorId": actor_id, "eventType": event_types,
    })


def uses_filter(
    start: From = None,
    end: To = None,
    network: Network = None,
    credential_id: CredentialId = None,
    user_id: UserId = None,
    outcome: Annotated[UseOutcome | None, Query(description="ALLOWED or DENIED.")] = None,
    reasons: Reasons = None,
) -> UsesFilter:
    return build(UsesFilter, {
        "from": start, "to": end, "network": network, "credentialId": credential_id,
        "userId": user_id, "outcome": outcome, "reason": reasons,
    })


def denied_filter(
    start: From = None,
    end: To = None,
    network: Network = None,
    credential_id: CredentialId = None,
    user_id: UserId = None,
    reasons: Reasons = None,
) -> UsesFilter:
    return build(UsesFilter, {
        "from": start, "to": end, "network": network, "credentialId": credential_id,
        "userId": user_id, "outcome": UseOutcome.DENIED, "reason": reasons,
    })


def anomaly_filter(
    start: From = None,
    end: To = None,
    kinds: Annotated[
        list[Anomaly] | None,
        Query(alias="kind", description="Only entries with any of these flags (repeat)."),
    ] = None,
    credential_id: CredentialId = None,
    user_id: UserId = None,
) -> AnomalyFilter:
    return build(AnomalyFilter, {
        "from": start, "to": end, "kind": kinds, "credentialId": credential_id,
        "userId": user_id,
    })


@router.get("/trail", summary="Audit trail of a credential, an owner or an actor",
            response_model=AuditEntriesPage)
def trail(
    query: Annotated[TrailFilter, Depends(trail_filter)],
    page: AuditPage,
    connection: ReadOnlyConnection,
) -> Response:
    """Audit entries in position order; every filter given must match."""
    return json_body(AuditEntriesPage.of(audit_trail(connection, query, page)))


@router.get("/uses", summary="Uses from an address or network",
            response_model=AuditEntriesPage)
def list_uses(
    query: Annotated[UsesFilter, Depends(uses_filter)],
    page: AuditPage,
    connection: ReadOnlyConnection,
) -> Response:
    """Uses (allowed and denied) in position order. An IPv4 network also matches the
    IPv4-mapped IPv6 form of its addresses."""
    return json_body(AuditEntriesPage.of(uses(connection, query, page)))


@router.get("/uses/denied", summary="Denied uses, with the reason",
            response_model=AuditEntriesPage)
def list_denied(
    query: Annotated[UsesFilter, Depends(denied_filter)],
    page: AuditPage,
    connection: ReadOnlyConnection,
) -> Response:
    """Denied uses in position order; ``denialReason`` says why each was refused."""
    return json_body(AuditEntriesPage.of(uses(connection, query, page)))


@router.get("/anomalies", summary="Anomalies in a window",
            response_model=AuditEntriesPage)
def list_anomalies(
    query: Annotated[AnomalyFilter, Depends(anomaly_filter)],
    page: AuditPage,
    connection: ReadOnlyConnection,
) -> Response:
    """Flagged audit entries in position order (``anomalies`` lists each entry's flags)."""
    return json_body(AuditEntriesPage.of(anomalies(connection, query, page)))
