"""Typed, frozen lifecycle events mirroring the Avro schemas in schemas/avro/."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from schemas.base import ContractModel, reject
from schemas.fields import CidrSet, Identifier, IpAddress, RoleSet, Text, UtcDatetime
from schemas.limits import SEQUENCE_MAX


class EventType(StrEnum):
    CREATED = "CREATED"
    ROLES_SCOPED = "ROLES_SCOPED"
    UPDATED = "UPDATED"
    USED = "USED"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"


class ActorKind(StrEnum):
    USER = "USER"
    SYSTEM = "SYSTEM"


class UseOutcome(StrEnum):
    ALLOWED = "ALLOWED"
    DENIED = "DENIED"


class DenialReason(StrEnum):
    OUTSIDE_ALLOWED_CIDRS = "OUTSIDE_ALLOWED_CIDRS"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"


class Actor(ContractModel):
    """Who caused a change: a user, or a system component such as the expiry sweeper."""

    kind: ActorKind
    id: Identifier

    def __str__(self) -> str:
        return f"{self.kind.value.lower()}:{self.id}"


class Envelope(ContractModel):
    """What every lifecycle event carries, whatever its type."""

    event_id: uuid.UUID
    event_type: EventType
    credential_id: Identifier
    client_id: Identifier
    user_id: Identifier
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime
    sequence: int = Field(ge=1, le=SEQUENCE_MAX, strict=True)
    actor: Actor
    correlation_id: Identifier
    source: Identifier


class PersonalClient(ContractModel):
    """The upstream PersonalClient message: every field optional, present ones validated."""

    id: Identifier | None = None
    client_id: Identifier | None = None
    user_id: Identifier | None = None
    display_name: Text | None = None
    scoped_roles: RoleSet | None = None
    allow_source_cidr: CidrSet | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    last_used_at: UtcDatetime | None = None
    expires_time: UtcDatetime | None = None
    deleted_at: UtcDatetime | None = None


class LifecycleEvent(ContractModel):
    """One lifecycle change of one credential. Subclasses add the payload of their type."""

    event_type: ClassVar[EventType]
    schema_name: ClassVar[str]

    envelope: Envelope

    @model_validator(mode="after")
    def _type_matches(self) -> Self:
        if self.envelope.event_type is not self.event_type:
            reject(
                "envelope.eventType",
                f"is {self.envelope.event_type.value}, "
                f"but a {self.schema_name} carries {self.event_type.value}",
            )
        return self

    @property
    def credential_id(self) -> str:
        return self.envelope.credential_id

    @property
    def sequence(self) -> int:
        return self.envelope.sequence

    @property
    def event_id(self) -> uuid.UUID:
        return self.envelope.event_id

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at

    def to_record(self) -> dict[str, Any]:
        """The Avro record (camelCase names, native datetime/UUID values) of this event."""
        return self.model_dump(mode="python", by_alias=True)


class CredentialCreated(LifecycleEvent):
    event_type: ClassVar[EventType] = EventType.CREATED
    schema_name: ClassVar[str] = "clientaudit.events.CredentialCreated"

    credential: PersonalClient

    @model_validator(mode="after")
    def _ids_agree(self) -> Self:
        envelope, credential = self.envelope, self.credential
        pairs = (
            ("id", credential.id, envelope.credential_id, "credentialId"),
            ("clientId", credential.client_id, envelope.client_id, "clientId"),
            ("userId", credential.user_id, envelope.user_id, "userId"),
        )
        for name, given, expected, envelope_name in pairs:
            if given is not None and given != expected:
                reject(
                    f"credential.{name}",
                    f"{given!r} differs from envelope.{envelope_name} {expected!r}",
                )
        return self


class CredentialRolesScoped(LifecycleEvent):
    event_type: ClassVar[EventType] = EventType.ROLES_SCOPED
    schema_name: ClassVar[str] = "clientaudit.events.CredentialRolesScoped"

    scoped_roles: RoleSet


class CredentialUpdated(LifecycleEvent):
    event_type: ClassVar[EventType] = EventType.UPDATED
    schema_name: ClassVar[str] = "clientaudit.events.CredentialUpdated"

    display_name: Text | None = None
    allow_source_cidr: CidrSet | None = None
    expires_time: UtcDatetime | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if (
            self.display_name is None
            and self.allow_source_cidr is None
            and self.expires_time is None
        ):
            reject("(event)", "an update must set displayName, allowSourceCidr or expiresTime")
        return self


class CredentialUsed(LifecycleEvent):
    event_type: ClassVar[EventType] = EventType.USED
    schema_name: ClassVar[str] = "clientaudit.events.CredentialUsed"

    source_ip: IpAddress
    used_at: UtcDatetime
    outcome: UseOutcome
    denial_reason: DenialReason | None = None

    @model_validator(mode="after")
    def _reason_matches_outcome(self) -> Self:
        if self.outcome is UseOutcome.DENIED and self.denial_reason is None:
            reject("denialReason", "a DENIED use needs a denialReason")
        if self.outcome is UseOutcome.ALLOWED and self.denial_reason is not None:
            reject("denialReason", "an ALLOWED use cannot carry a denialReason")
        return self


class CredentialExpired(LifecycleEvent):
    event_type: ClassVar[EventType] = EventType.EXPIRED
    schema_name: ClassVar[str] = "clientaudit.events.CredentialExpired"

    expires_time: UtcDatetime


class CredentialDeleted(LifecycleEvent):
    event_type: ClassVar[EventType] = EventType.DELETED
    schema_name: ClassVar[str] = "clientaudit.events.CredentialDeleted"

    deleted_at: UtcDatetime
    reason: Text | None = None


EVENT_CLASSES: dict[EventType, type[LifecycleEvent]] = {
    cls.event_type: cls
    for cls in (
        CredentialCreated,
        CredentialRolesScoped,
        CredentialUpdated,
        CredentialUsed,
        CredentialExpired,
        CredentialDeleted,
    )
}
"""Event class of every event type."""

EVENT_CLASSES_BY_SCHEMA: dict[str, type[LifecycleEvent]] = {
    cls.schema_name: cls for cls in EVENT_CLASSES.values()
}
"""Event class of every Avro record full name."""

EventTypeName = Literal["CREATED", "ROLES_SCOPED", "UPDATED", "USED", "EXPIRED", "DELETED"]
