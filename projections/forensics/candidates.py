"""Which credentials a forensic question needs to refold: narrowed in SQL, decided by the fold."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, Text, cast, or_, select
from sqlalchemy.sql.elements import ColumnElement

from projections.db.history import occurred_by
from projections.db.tables import audit_log
from schemas.models import EventType

ROLE_EVENT_TYPES = (EventType.CREATED.value, EventType.ROLES_SCOPED.value)
"""The events that set scoped roles."""


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
