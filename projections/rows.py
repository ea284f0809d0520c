"""Conversions between the projection's values and table rows."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from projections.anomalies import Anomaly
from projections.positioned import PositionedEvent
from projections.state import CredentialState, CredentialStatus
from schemas.models import EVENT_CLASSES, CredentialUsed, EventType, LifecycleEvent


def state_row(state: CredentialState) -> dict[str, Any]:
    """The credentials row of a state."""
    return {
        "credential_id": state.credential_id,
        "client_id": state.client_id,
        "user_id": state.user_id,
        "display_name": state.display_name,
        "scoped_roles": list(state.scoped_roles),
        "allow_source_cidr": list(state.allow_source_cidr),
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "last_used_at": state.last_used_at,
        "expires_time": state.expires_time,
        "deleted_at": state.deleted_at,
        "status": state.status.value,
        "last_sequence": state.last_sequence,
        "last_event_id": str(state.last_event_id),
        "last_event_type": state.last_event_type.value,
        "last_changed_at": state.last_changed_at,
        "created_event_id": None if state.created_event_id is None else str(state.created_event_id),
        "seen_source_ips": list(state.seen_source_ips),
        "anomaly_count": state.anomaly_count,
    }


def state_from_row(row: RowMapping) -> CredentialState:
    """The state held in a credentials row (as returned by ``Row._mapping``)."""
    created_event_id = row["created_event_id"]
    return CredentialState(
        credential_id=row["credential_id"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        display_name=row["display_name"],
        scoped_roles=tuple(row["scoped_roles"]),
        allow_source_cidr=tuple(row["allow_source_cidr"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_used_at=row["last_used_at"],
        expires_time=row["expires_time"],
        deleted_at=row["deleted_at"],
        status=CredentialStatus(row["status"]),
        last_sequence=row["last_sequence"],
        last_event_id=uuid.UUID(row["last_event_id"]),
        last_event_type=EventType(row["last_event_type"]),
        last_changed_at=row["last_changed_at"],
        created_event_id=None if created_event_id is None else uuid.UUID(created_event_id),
        seen_source_ips=tuple(row["seen_source_ips"]),
        anomaly_count=row["anomaly_count"],
    )


def audit_row(
    positioned: PositionedEvent, anomalies: Sequence[Anomaly], projected_at: datetime
) -> dict[str, Any]:
    """The audit_log row recording one event (without its position, which the database assigns)."""
    event = positioned.event
    envelope = event.envelope
    use = event if isinstance(event, CredentialUsed) else None
    return {
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type.value,
        "credential_id": envelope.credential_id,
        "client_id": envelope.client_id,
        "user_id": envelope.user_id,
        "actor_kind": envelope.actor.kind.value,
        "actor_id": envelope.actor.id,
        "correlation_id": envelope.correlation_id,
        "source": envelope.source,
        "occurred_at": envelope.occurred_at,
        "recorded_at": envelope.recorded_at,
        "sequence": envelope.sequence,
        "source_ip": None if use is None else use.source_ip,
        "outcome": None if use is None else use.outcome.value,
        "denial_reason": (
            None if use is None or use.denial_reason is None else use.denial_reason.value
        ),
        "payload": payload_of(event),
        "anomalies": [anomaly.value for anomaly in anomalies],
        "is_anomaly": bool(anomalies),
        "kafka_topic": positioned.topic,
        "kafka_partition": positioned.partition,
        "kafka_offset": positioned.offset,
        "projected_at": projected_at,
    }


def payload_of(event: LifecycleEvent) -> dict[str, Any]:
    """The JSON document an event is stored as (Avro field names)."""
    return event.model_dump(mode="json", by_alias=True)


def event_from_payload(event_type: str, payload: Mapping[str, Any]) -> LifecycleEvent:
    """The event an audit_log row's ``event_type`` and ``payload`` record."""
    return EVENT_CLASSES[EventType(event_type)].from_record(payload)
