"""The typed rows queries return: audit entries and credential records.

Both serialise with camelCase names (as the Avro contract and the API do); ``from_row``
builds one from a SQLAlchemy row of the ``audit_log`` or ``credentials`` table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy import RowMapping

from projections.anomalies import Anomaly
from projections.state import CredentialStatus
from schemas.models import ActorKind, DenialReason, EventType, UseOutcome


class _RowModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class AuditEntry(_RowModel):
    """One recorded lifecycle event: envelope, use details, anomaly flags and Kafka origin."""

    position: int
    event_id: str
    event_type: EventType
    credential_id: str
    client_id: str
    user_id: str
    actor_kind: ActorKind
    actor_id: str
    correlation_id: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    sequence: int
    source_ip: str | None
    outcome: UseOutcome | None
    denial_reason: DenialReason | None
    anomalies: tuple[Anomaly, ...]
    payload: dict[str, Any]
    kafka_topic: str
    kafka_partition: int
    kafka_offset: int
    projected_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        values = dict(row)
        values.pop("is_anomaly", None)
        return cls.model_validate(values)


class CredentialRecord(_RowModel):
    """A credential's current state, as of its last applied lifecycle event."""

    credential_id: str
    client_id: str
    user_id: str
    display_name: str | None
    scoped_roles: tuple[str, ...]
    allow_source_cidr: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    last_used_at: datetime | None
    expires_time: datetime | None
    deleted_at: datetime | None
    status: CredentialStatus
    last_sequence: int
    last_event_id: str
    last_event_type: EventType
    last_changed_at: datetime
    created_event_id: str | None
    seen_source_ips: tuple[str, ...]
    anomaly_count: int

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        return cls.model_validate(dict(row))
