"""Builders of valid lifecycle events (and their raw records) with overridable fields.

Every builder is deterministic: instants derive from ``T0`` and event ids are UUIDv5 of the
credential id, the sequence and the event type, so two calls with the same arguments build
equal events. Keyword names are the Python (snake_case) names of the fields::

    build_used(credential_id="cred-7", sequence=3, source_ip="2001:db8::7",
               outcome="DENIED", denial_reason="OUTSIDE_ALLOWED_CIDRS")

Payload fields are explicit keyword arguments; every other keyword goes to the envelope
(``credential_id``, ``client_id``, ``user_id``, ``sequence``, ``occurred_at``, ``recorded_at``,
``event_id``, ``actor_kind``, ``actor_id``, ``correlation_id``, ``source``).

The ``*_record`` functions return the camelCase record without validating it, so tests can
corrupt any field before handing it to ``from_record``; the ``build_*`` functions validate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from schemas.models import (
    EVENT_CLASSES,
    CredentialCreated,
    CredentialDeleted,
    CredentialExpired,
    CredentialRolesScoped,
    CredentialUpdated,
    CredentialUsed,
    EventType,
    LifecycleEvent,
)

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
"""The instant every built event occurs at unless told otherwise."""

FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
"""The latest instant Python (and the contract) can represent."""

NAMESPACE = uuid.UUID("6f1c2a52-8d0e-4b8e-9a43-0d3f5e1c7b21")
"""Namespace of the deterministic (UUIDv5) event and correlation ids."""

CREDENTIAL_ID = "cred-0001"
CLIENT_ID = "client-0001"
USER_ID = "user-0001"

Record = dict[str, Any]
E = TypeVar("E", bound=LifecycleEvent)


def deterministic_uuid(*parts: object) -> uuid.UUID:
    """A UUID that depends only on ``parts``."""
    return uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts))


def envelope_record(
    event_type: EventType | str,
    *,
    credential_id: Any = CREDENTIAL_ID,
    client_id: Any = CLIENT_ID,
    user_id: Any = USER_ID,
    sequence: Any = 1,
    occurred_at: Any = T0,
    recorded_at: Any = None,
    event_id: Any = None,
    actor_kind: Any = "USER",
    actor_id: Any = None,
    correlation_id: Any = None,
    source: Any = "iam-api",
) -> Record:
    """The envelope record; ``None`` for the derived fields means "derive a default"."""
    kind = EventType(event_type).value if isinstance(event_type, EventType) else event_type
    if recorded_at is None:
        recorded_at = (
            occurred_at + timedelta(milliseconds=250) if isinstance(occurred_at, datetime) else T0
        )
    if event_id is None:
        event_id = deterministic_uuid("event", credential_id, sequence, kind)
    if correlation_id is None:
        correlation_id = str(deterministic_uuid("correlation", credential_id, sequence))
    return {
        "eventId": event_id,
        "eventType": kind,
        "credentialId": credential_id,
        "clientId": client_id,
        "userId": user_id,
        "occurredAt": occurred_at,
        "recordedAt": recorded_at,
        "sequence": sequence,
        "actor": {"kind": actor_kind, "id": user_id if actor_id is None else actor_id},
        "correlationId": correlation_id,
        "source": source,
    }


def _occurred(envelope: dict[str, Any]) -> Any:
    return envelope.get("occurred_at", T0)


def created_record(
    *,
    display_name: Any = "CI deploy key",
    scoped_roles: Any = ("viewer", "storage.reader"),
    allow_source_cidr: Any = ("10.20.0.0/16", "2001:db8:1::/48"),
    expires_time: Any = T0 + timedelta(days=30),
    credential: dict[str, Any] | None = None,
    **envelope: Any,
) -> Record:
    """A CredentialCreated record; ``credential`` entries override/extend the PersonalClient."""
    head = envelope_record(EventType.CREATED, **envelope)
    at = _occurred(envelope)
    personal = {
        "id": head["credentialId"],
        "clientId": head["clientId"],
        "userId": head["userId"],
        "displayName": display_name,
        "scopedRoles": list(scoped_roles) if isinstance(scoped_roles, tuple) else scoped_roles,
        "allowSourceCidr": (
            list(allow_source_cidr) if isinstance(allow_source_cidr, tuple) else allow_source_cidr
        ),
        "createdAt": at,
        "updatedAt": at,
        "lastUsedAt": None,
        "expiresTime": expires_time,
        "deletedAt": None,
    }
    personal.update(credential or {})
    return {"envelope": head, "credential": personal}


def roles_scoped_record(
    *, scoped_roles: Any = ("admin", "viewer"), sequence: Any = 2, **envelope: Any
) -> Record:
    roles = list(scoped_roles) if isinstance(scoped_roles, tuple) else scoped_roles
    return {
        "envelope": envelope_record(EventType.ROLES_SCOPED, sequence=sequence, **envelope),
        "scopedRoles": roles,
    }


def updated_record(
    *,
    display_name: Any = "CI deploy key (renamed)",
    allow_source_cidr: Any = None,
    expires_time: Any = None,
    sequence: Any = 3,
    **envelope: Any,
) -> Record:
    cidrs = list(allow_source_cidr) if isinstance(allow_source_cidr, tuple) else allow_source_cidr
    return {
        "envelope": envelope_record(EventType.UPDATED, sequence=sequence, **envelope),
        "displayName": display_name,
        "allowSourceCidr": cidrs,
        "expiresTime": expires_time,
    }


def used_record(
    *,
    source_ip: Any = "10.20.1.7",
    used_at: Any = None,
    outcome: Any = "ALLOWED",
    denial_reason: Any = None,
    sequence: Any = 4,
    **envelope: Any,
) -> Record:
    envelope.setdefault("source", "api-gateway")
    return {
        "envelope": envelope_record(EventType.USED, sequence=sequence, **envelope),
        "sourceIp": source_ip,
        "usedAt": _occurred(envelope) if used_at is None else used_at,
        "outcome": outcome,
        "denialReason": denial_reason,
    }


def expired_record(*, expires_time: Any = None, sequence: Any = 5, **envelope: Any) -> Record:
    envelope.setdefault("actor_kind", "SYSTEM")
    envelope.setdefault("actor_id", "expiry-sweeper")
    envelope.setdefault("source", "expiry-sweeper")
    return {
        "envelope": envelope_record(EventType.EXPIRED, sequence=sequence, **envelope),
        "expiresTime": _occurred(envelope) if expires_time is None else expires_time,
    }


def deleted_record(
    *, deleted_at: Any = None, reason: Any = "rotated", sequence: Any = 6, **envelope: Any
) -> Record:
    return {
        "envelope": envelope_record(EventType.DELETED, sequence=sequence, **envelope),
        "deletedAt": _occurred(envelope) if deleted_at is None else deleted_at,
        "reason": reason,
    }


def build_created(**fields: Any) -> CredentialCreated:
    return CredentialCreated.from_record(created_record(**fields))


def build_roles_scoped(**fields: Any) -> CredentialRolesScoped:
    return CredentialRolesScoped.from_record(roles_scoped_record(**fields))


def build_updated(**fields: Any) -> CredentialUpdated:
    return CredentialUpdated.from_record(updated_record(**fields))


def build_used(**fields: Any) -> CredentialUsed:
    return CredentialUsed.from_record(used_record(**fields))


def build_expired(**fields: Any) -> CredentialExpired:
    return CredentialExpired.from_record(expired_record(**fields))


def build_deleted(**fields: Any) -> CredentialDeleted:
    return CredentialDeleted.from_record(deleted_record(**fields))


RECORD_BUILDERS: dict[EventType, Callable[..., Record]] = {
    EventType.CREATED: created_record,
    EventType.ROLES_SCOPED: roles_scoped_record,
    EventType.UPDATED: updated_record,
    EventType.USED: used_record,
    EventType.EXPIRED: expired_record,
    EventType.DELETED: deleted_record,
}
"""Record builder of every event type (all take the same envelope keywords)."""

BUILDERS: dict[EventType, Callable[..., LifecycleEvent]] = {
    EventType.CREATED: build_created,
    EventType.ROLES_SCOPED: build_roles_scoped,
    EventType.UPDATED: build_updated,
    EventType.USED: build_used,
    EventType.EXPIRED: build_expired,
    EventType.DELETED: build_deleted,
}
"""Validated builder of every event type."""

assert set(BUILDERS) == set(EVENT_CLASSES) == set(RECORD_BUILDERS)


def build(event_type: EventType, **fields: Any) -> LifecycleEvent:
    """A valid event of ``event_type``; ``fields`` as for the type's ``build_*`` function."""
    return BUILDERS[event_type](**fields)


def one_of_each(credential_id: str = CREDENTIAL_ID, **envelope: Any) -> list[LifecycleEvent]:
    """A coherent history of one credential: created, roles scoped, updated, used, expired,
    deleted, with sequences 1..6 and instants one hour apart."""
    start = envelope.pop("occurred_at", T0)
    order = list(BUILDERS)
    return [
        build(
            kind,
            credential_id=credential_id,
            sequence=index,
            occurred_at=start + timedelta(hours=index - 1),
            **envelope,
        )
        for index, kind in enumerate(order, start=1)
    ]


def history(credential_id: str, events: int, start: datetime = T0) -> Iterator[LifecycleEvent]:
    """``events`` events of one credential: created, then alternating uses and role changes."""
    yield build_created(credential_id=credential_id, occurred_at=start)
    for sequence in range(2, events + 1):
        at = start + timedelta(minutes=sequence)
        if sequence % 2:
            yield build_roles_scoped(
                credential_id=credential_id,
                sequence=sequence,
                occurred_at=at,
                scoped_roles=("viewer", f"role-{sequence}"),
            )
        else:
            yield build_used(credential_id=credential_id, sequence=sequence, occurred_at=at)


def same_type(event: LifecycleEvent, cls: type[E]) -> E:
    """Narrow ``event`` to ``cls`` (fails loudly if it is another type)."""
    assert isinstance(event, cls), f"expected {cls.__name__}, got {type(event).__name__}"
    return event
