"""Reading recorded events back from the audit log: per credential, in the order the fold needs.

Shared by state-as-of-an-instant and role history, which both refold a credential's events
with :mod:`projections.fold`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from datetime import datetime

from sqlalchemy import Connection, Text, cast, or_, select
from sqlalchemy.sql.elements import ColumnElement

from projections.lookups import chunks
from projections.rows import event_from_payload
from projections.tables import audit_log
from schemas.models import EventType, LifecycleEvent

CHUNK = 500
"""Credentials whose events are read per query."""

ROLE_EVENT_TYPES = (EventType.CREATED.value, EventType.ROLES_SCOPED.value)
"""The events that set scoped roles."""


def occurred_by(instant: datetime | None) -> list[ColumnElement[bool]]:
    """Audit rows whose event occurred at or before ``instant`` (all when None)."""
    return [] if instant is None else [audit_log.c.occurred_at <= instant]


def histories(
    connection: Connection, credential_ids: Collection[str], until: datetime | None = None
) -> Iterator[tuple[str, list[LifecycleEvent]]]:
    """Each credential's events that occurred at or before ``until``, in sequence order
    (events sharing a sequence in audit-log order), credential ids in sorted order.

    Credentials without such events are left out.
    """
    for chunk in chunks(sorted(credential_ids), CHUNK):
        query = (
            select(audit_log.c.credential_id, audit_log.c.event_type, audit_log.c.payload)
            .where(audit_log.c.credential_id.in_(chunk), *occurred_by(until))
            .order_by(audit_log.c.credential_id, audit_log.c.sequence, audit_log.c.position)
        )
        current: str | None = None
        events: list[LifecycleEvent] = []
        for credential_id, event_type, payload in connection.execute(query):
            if credential_id != current:
                if current is not None:
                    yield current, events
                current, events = credential_id, []
            events.append(event_from_payload(event_type, payload))
        if current is not None:
            yield current, events


def credentials_with_events(
    connection: Connection, until: datetime | None, user_id: str | None = None
) -> list[str]:
    """Credentials with an event at or before ``until``, optionally of one owner."""
    query = select(audit_log.c.credential_id).distinct().where(*occurred_by(until))
    if user_id is not None:
        query = query.where(audit_log.c.user_id == user_id)
    return sorted(connection.scalars(query))


def _mentions(role: str) -> ColumnElement[bool]:
    """The payload text contains the role as a JSON string (either escaping of non-ASCII)."""
    text = cast(audit_log.c.payload, Text)
    spellings = {json.dumps(role), json.dumps(role, ensure_ascii=False)}
    return or_(*(text.contains(spelling, autoescape=True) for spelling in sorted(spellings)))


def credentials_mentioning_role(
    connection: Connection, role: str, until: datetime | None
) -> list[str]:
    """Credentials with a role-setting event at or before ``until`` whose payload mentions
    ``role``: every credential that may have held it then (and possibly a few more)."""
    query = (
        select(audit_log.c.credential_id)
        .distinct()
        .where(
            audit_log.c.event_type.in_(ROLE_EVENT_TYPES),
            _mentions(role),
            *occurred_by(until),
        )
    )
    return sorted(connection.scalars(query))


def is_recorded(connection: Connection, credential_id: str) -> bool:
    """Whether the audit log holds any event of the credential."""
    query = select(audit_log.c.position).where(audit_log.c.credential_id == credential_id)
    return connection.execute(query.limit(1)).first() is not None
