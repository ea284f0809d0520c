"""Builders of lifecycle events for the projection tests: one credential's history at a time."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from projections.model.positioned import PositionedEvent
from schemas.models import (
    Actor,
    ActorKind,
    CredentialCreated,
    CredentialDeleted,
    CredentialExpired,
    CredentialRolesScoped,
    CredentialUpdated,
    CredentialUsed,
    DenialReason,
    Envelope,
    EventType,
    LifecycleEvent,
    PersonalClient,
    UseOutcome,
)

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
TOPIC = "client-audit.credential-lifecycle.v1"


class History:
    """Events of one credential: each call takes the next sequence, one minute later.

    ``sequence=`` and ``at=`` override the automatic values (the counters do not move back).
    """

    def __init__(
        self,
        credential_id: str = "cred-1",
        *,
        user_id: str = "user-1",
        client_id: str | None = None,
        start: datetime = T0,
    ) -> None:
        self.credential_id = credential_id
        self.user_id = user_id
        self.client_id = client_id or f"client-{credential_id}"
        self.clock = start
        self.sequence = 0

    def envelope(
        self, event_type: EventType, sequence: int | None, at: datetime | None
    ) -> Envelope:
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        else:
            self.sequence = max(self.sequence, sequence)
        if at is None:
            self.clock += timedelta(minutes=1)
            at = self.clock
        return Envelope(
            event_id=uuid.uuid4(),
            event_type=event_type,
            credential_id=self.credential_id,
            client_id=self.client_id,
            user_id=self.user_id,
            occurred_at=at,
            recorded_at=at + timedelta(seconds=1),
            sequence=sequence,
            actor=Actor(kind=ActorKind.USER, id=self.user_id),
            correlation_id=f"corr-{uuid.uuid4().hex[:8]}",
            source="test",
        )

    def created(
        self,
        *,
        display_name: str | None = "laptop",
        scoped_roles: Sequence[str] | None = ("reader",),
        allow_source_cidr: Sequence[str] | None = (),
        expires_time: datetime | None = None,
        last_used_at: datetime | None = None,
        deleted_at: datetime | None = None,
        with_created_at: bool = True,
        sequence: int | None = None,
        at: datetime | None = None,
    ) -> CredentialCreated:
        envelope = self.envelope(EventType.CREATED, sequence, at)
        record = PersonalClient(
            id=self.credential_id,
            client_id=self.client_id,
            user_id=self.user_id,
            display_name=display_name,
            scoped_roles=None if scoped_roles is None else tuple(scoped_roles),
            allow_source_cidr=None if allow_source_cidr is None else tuple(allow_source_cidr),
            created_at=envelope.occurred_at if with_created_at else None,
            last_used_at=last_used_at,
            expires_time=expires_time,
            deleted_at=deleted_at,
        )
        return CredentialCreated(envelope=envelope, credential=record)

    def roles_scoped(
        self, *roles: str, sequence: int | None = None, at: datetime | None = None
    ) -> CredentialRolesScoped:
        envelope = self.envelope(EventType.ROLES_SCOPED, sequence, at)
        return CredentialRolesScoped(envelope=envelope, scoped_roles=roles)

    def updated(
        self,
        *,
        display_name: str | None = None,
        allow_source_cidr: Sequence[str] | None = None,
        expires_time: datetime | None = None,
        sequence: int | None = None,
        at: datetime | None = None,
    ) -> CredentialUpdated:
        envelope = self.envelope(EventType.UPDATED, sequence, at)
        return CredentialUpdated(
            envelope=envelope,
            display_name=display_name,
            allow_source_cidr=None if allow_source_cidr is None else tuple(allow_source_cidr),
            expires_time=expires_time,
        )

    def used(
        self,
        source_ip: str = "10.0.0.1",
        *,
        denied: DenialReason | None = None,
        sequence: int | None = None,
        at: datetime | None = None,
    ) -> CredentialUsed:
        envelope = self.envelope(EventType.USED, sequence, at)
        return CredentialUsed(
            envelope=envelope,
            source_ip=source_ip,
            used_at=envelope.occurred_at,
            outcome=UseOutcome.ALLOWED if denied is None else UseOutcome.DENIED,
            denial_reason=denied,
        )

    def expired(
        self,
        *,
        expires_time: datetime | None = None,
        sequence: int | None = None,
        at: datetime | None = None,
    ) -> CredentialExpired:
        envelope = self.envelope(EventType.EXPIRED, sequence, at)
        return CredentialExpired(
            envelope=envelope, expires_time=expires_time or envelope.occurred_at
        )

    def deleted(
        self, *, reason: str | None = None, sequence: int | None = None, at: datetime | None = None
    ) -> CredentialDeleted:
        envelope = self.envelope(EventType.DELETED, sequence, at)
        return CredentialDeleted(envelope=envelope, deleted_at=envelope.occurred_at, reason=reason)


class Partition:
    """Kafka positions for events, as one partition of one topic would hand them out."""

    def __init__(self, partition: int = 0, *, topic: str = TOPIC, start: int = 0) -> None:
        self.topic = topic
        self.partition = partition
        self.next_offset = start

    def place(self, events: Iterable[LifecycleEvent]) -> list[PositionedEvent]:
        placed = []
        for event in events:
            placed.append(PositionedEvent(event, self.topic, self.partition, self.next_offset))
            self.next_offset += 1
        return placed

    def offsets(self) -> dict[tuple[str, int], int]:
        """What a consumer stores after the events placed so far."""
        return {(self.topic, self.partition): self.next_offset}
