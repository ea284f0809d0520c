"""Reading recorded events back from the audit log, per credential, in the order the fold needs.

The one reader of a credential's history: the store refolds credentials with late events
from it, and state-as-of-an-instant and role history refold credentials from it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.sql.elements import ColumnElement

from projections.db.backends import backend_of
from projections.db.chunks import chunks
from projections.db.rows import event_from_payload
from projections.db.tables import audit_log
from schemas.models import LifecycleEvent

CHUNK = 500
"""Credentials whose events are read per query."""


def occurred_by(instant: datetime | None) -> list[ColumnElement[bool]]:
    """Audit rows whose event occurred at or before ``instant`` (all when None)."""
    return [] if instant is None else [audit_log.c.occurred_at <= instant]


def histories(
    connection: Connection, credential_ids: Collection[str], until: datetime | None = None
) -> Iterator[tuple[str, list[LifecycleEvent]]]:
    """Each credential's events that occurred at or before ``until`` (all when None), in
    sequence order (events sharing a sequence in audit-log order), credential ids in sorted
    order.

    Credentials without such events are left out.
    """
    backend = backend_of(connection)
    for chunk in chunks(sorted(credential_ids), CHUNK):
        query = (
            select(audit_log.c.credential_id, audit_log.c.event_type, audit_log.c.payload)
            .where(backend.one_of(audit_log.c.credential_id, chunk), *occurred_by(until))
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
